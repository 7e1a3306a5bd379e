extern alias ingestion;

using Integration.Testing;

namespace Integration.Ingestion.Tests;

public sealed class ServiceStartupTests(RedisServer redis) : GrpcServiceStartupTests<ingestion::Program>(redis);
