using Integration.Testing;

namespace Integration.Campaigns.Tests;

public sealed class ServiceStartupTests(RedisServer redis) : GrpcServiceStartupTests<Program>(redis);
