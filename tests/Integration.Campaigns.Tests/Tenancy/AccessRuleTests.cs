extern alias ingestion;

using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Integration.Campaigns.Tests.Support;
using Integration.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using AdminClient = Integration.Admin.V1.Admin.AdminClient;

namespace Integration.Campaigns.Tests.Tenancy;

/// <summary>
/// Walks every RPC of every gRPC service of ingestion and campaigns, from the compiled descriptors, and checks the
/// access rule on each for real: no token, another workspace's token, the workspace's own token, the admin token.
/// A new RPC is covered by the central check (or fails here); a new service fails until it is walked.
/// </summary>
public sealed class AccessRuleTests : IAsyncLifetime
{
    private const string AdminToken = "access-admin-token";
    private const string InternalToken = "access-internal-token";
    private readonly RedisServer _redis = new();
    private KestrelServiceFactory<ingestion::Program> _ingestion = null!;
    private CampaignsHost _campaigns = null!;
    private GrpcChannel _ingestionChannel = null!;
    private GrpcChannel _campaignsChannel = null!;

    // The methods the issue names as operators' only; a change to the table that opens one of them fails here.
    private static readonly string[] AdminOnly =
    [
        "integration.admin.v1.Admin/CreateWorkspace", "integration.admin.v1.Admin/SetRateLimit", "integration.admin.v1.Admin/SetRetention",
        "integration.admin.v1.Admin/RotateWorkspaceKey",
        "integration.ingestion.v1.Ingestion/IngestUsers", "integration.ingestion.v1.Ingestion/IngestEvents", "integration.ingestion.v1.Ingestion/Ingest",
        "integration.ingestion.v1.Ingestion/GetWorkspaceAuth",
    ];

    public async Task InitializeAsync()
    {
        await _redis.InitializeAsync();
        _ingestion = new KestrelServiceFactory<ingestion::Program>(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
            ["Internal:Token"] = InternalToken,
            ["Logging:LogLevel:Default"] = "Warning",
        }, grpc: true);
        _ingestionChannel = _ingestion.CreateGrpcChannel();
        _campaigns = new CampaignsHost(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = _redis.ConnectionString,
            ["Admin:Token"] = AdminToken,
            ["Internal:Token"] = InternalToken,
            ["Ingestion:Address"] = $"http://127.0.0.1:{_ingestion.GrpcPort}",
            ["Campaigns:RunnerEnabled"] = "false",
            ["Delivery:RunnerEnabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        }, new FakeTimeProvider(DateTimeOffset.UtcNow), null);
        _campaignsChannel = _campaigns.CreateGrpcChannel();
    }

    public async Task DisposeAsync()
    {
        _ingestionChannel.Dispose();
        _campaignsChannel.Dispose();
        await _campaigns.DisposeAsync();
        await _ingestion.DisposeAsync();
        await _redis.DisposeAsync();
    }

    private IEnumerable<(ServiceDescriptor Service, GrpcChannel Channel)> Services() =>
    [
        (Integration.Admin.V1.AdminReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Admin"), _ingestionChannel),
        (ingestion::Integration.Ingestion.V1.IngestionReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Ingestion"), _ingestionChannel),
        (ingestion::Integration.Segments.V1.SegmentsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Segments"), _ingestionChannel),
        (V1.CampaignsReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Campaigns"), _campaignsChannel),
        (V1.DeliveriesReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Deliveries"), _campaignsChannel),
    ];

    [Fact]
    public async Task EveryRpcOfEveryServiceKeepsAWorkspaceTokenToItsOwnWorkspace()
    {
        var admin = new AdminClient(_ingestionChannel);
        var auth = new Metadata { { "authorization", "Bearer " + AdminToken } };
        foreach (var ws in new[] { "ws-mine", "ws-theirs" })
        {
            await admin.CreateWorkspaceAsync(new() { WorkspaceId = ws }, auth, Deadline());
        }
        var mine = (await admin.CreateWorkspaceTokenAsync(new() { WorkspaceId = "ws-mine", Name = "walk" }, auth, Deadline())).Token;

        var failures = new List<string>();
        var walked = 0;
        foreach (var (service, channel) in Services())
        {
            foreach (var method in service.Methods)
            {
                walked++;
                var name = $"{service.FullName}/{method.Name}";
                var access = ApiAccess.For("/" + name);
                var workspaceCallable = access is Access.Workspace or Access.InternalOrWorkspace;
                if (workspaceCallable && !ApiAccessInterceptor.HasWorkspaceId(method.InputType))
                {
                    failures.Add($"{name}: workspace tokens may call it, but its request has no workspace_id to check");
                }
                if (workspaceCallable && AdminOnly.Contains(name))
                {
                    failures.Add($"{name}: must stay with the admin token");
                }

                var anonymous = await CallAsync(channel, method, "ws-mine", token: null);
                var theirs = await CallAsync(channel, method, "ws-theirs", mine);
                var own = await CallAsync(channel, method, "ws-mine", mine);
                var asAdmin = await CallAsync(channel, method, "ws-mine", AdminToken);

                Expect(failures, name, "without a token", anonymous, StatusCode.Unauthenticated);
                Expect(failures, name, "with another workspace's token", theirs, StatusCode.PermissionDenied);
                if (workspaceCallable)
                {
                    ExpectPassed(failures, name, "with the workspace's own token", own);
                }
                else
                {
                    Expect(failures, name, "with a workspace token (admin only)", own, StatusCode.PermissionDenied);
                }
                ExpectPassed(failures, name, "with the admin token", asAdmin);
            }
        }

        Assert.Empty(failures);
        // 39 when this test was written; fewer means the walk lost services.
        Assert.True(walked >= 39, $"only {walked} RPCs walked");
    }

    [Fact]
    public async Task EveryServiceTheServersListIsWalked()
    {
        var walked = Services().Select(s => s.Service.FullName).ToHashSet();
        var listed = new List<string>();
        foreach (var channel in new[] { _ingestionChannel, _campaignsChannel })
        {
            using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(deadline: Deadline());
            await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            listed.AddRange(call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name)
                .Where(s => !s.StartsWith("grpc.", StringComparison.Ordinal)));
        }

        Assert.Equal(listed.Order(), walked.Order());
    }

    private static void Expect(List<string> failures, string method, string how, StatusCode actual, StatusCode expected)
    {
        if (actual != expected)
        {
            failures.Add($"{method} {how}: {actual}, expected {expected}");
        }
    }

    private static void ExpectPassed(List<string> failures, string method, string how, StatusCode actual)
    {
        if (actual is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
        {
            failures.Add($"{method} {how}: refused with {actual}");
        }
    }

    // Calls one RPC with a request whose every workspace_id (at any depth) is the given workspace; other fields are
    // left empty, so the service answers InvalidArgument / NotFound / OK once the access check has let it through.
    private static async Task<StatusCode> CallAsync(GrpcChannel channel, MethodDescriptor method, string workspaceId, string? token)
    {
        var request = NewRequest(method.InputType, workspaceId, 0);
        var call = new Method<IMessage, IMessage>(
            method.IsServerStreaming ? MethodType.ServerStreaming : MethodType.Unary,
            method.Service.FullName, method.Name,
            Marshallers.Create<IMessage>(m => m.ToByteArray(), b => method.InputType.Parser.ParseFrom(b)),
            Marshallers.Create<IMessage>(m => m.ToByteArray(), b => method.OutputType.Parser.ParseFrom(b)));
        var headers = new Metadata();
        if (token is not null)
        {
            headers.Add("authorization", "Bearer " + token);
        }
        var options = new CallOptions(headers, Deadline());
        try
        {
            if (method.IsServerStreaming)
            {
                using var stream = channel.CreateCallInvoker().AsyncServerStreamingCall(call, null, options, request);
                await stream.ResponseStream.MoveNext(CancellationToken.None);
            }
            else
            {
                await channel.CreateCallInvoker().AsyncUnaryCall(call, null, options, request);
            }
            return StatusCode.OK;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    private static IMessage NewRequest(MessageDescriptor descriptor, string workspaceId, int depth)
    {
        var message = descriptor.Parser.ParseFrom(ByteString.Empty);
        if (depth > 3)
        {
            return message;
        }
        foreach (var field in descriptor.Fields.InDeclarationOrder())
        {
            if (field.Name == "workspace_id" && field.FieldType == FieldType.String && !field.IsRepeated)
            {
                field.Accessor.SetValue(message, workspaceId);
            }
            else if (field.FieldType == FieldType.Message && !field.IsMap && ApiAccessInterceptor.HasWorkspaceId(field.MessageType))
            {
                var child = NewRequest(field.MessageType, workspaceId, depth + 1);
                if (field.IsRepeated)
                {
                    ((IList)field.Accessor.GetValue(message)).Add(child);
                }
                else
                {
                    field.Accessor.SetValue(message, child);
                }
            }
        }
        return message;
    }

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(60);
}
