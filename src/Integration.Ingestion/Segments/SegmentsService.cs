using System.Globalization;
using Grpc.Core;
using Integration.Common.V1;
using Integration.Domain.Segments;
using Integration.Ingestion.Storage;
using Integration.Segments.V1;
using StackExchange.Redis;

namespace Integration.Ingestion.Segments;

/// <summary>Segment evaluation over the stored users and their event history (internal: called by campaigns).</summary>
internal sealed class SegmentsService(ISegmentStore store, LegacyMigration migration, TimeProvider time) : Integration.Segments.V1.Segments.SegmentsBase
{
    private const int DefaultPageSize = 100;
    private const int MaxPageSize = 1000;

    public override async Task<CountSegmentResponse> CountSegment(CountSegmentRequest request, ServerCallContext context)
    {
        Require(request.WorkspaceId, "workspace_id");
        Validate(request.Segment);
        var page = await Guard(() => store.ScanAsync(request.WorkspaceId, request.Segment ?? new(), AsOf(request.AsOfMs), null, int.MaxValue, context.CancellationToken, collect: false));
        return new CountSegmentResponse { Matching = page.Matched, Total = page.Examined };
    }

    public override async Task<ListSegmentUsersResponse> ListSegmentUsers(ListSegmentUsersRequest request, ServerCallContext context)
    {
        Require(request.WorkspaceId, "workspace_id");
        Validate(request.Segment);
        if (request.PageSize is < 0 or > MaxPageSize)
        {
            throw Invalid($"page_size: must be between 1 and {MaxPageSize} (0: {DefaultPageSize}).");
        }
        SegmentCursor? cursor = null;
        if (request.PageToken.Length > 0 && !SegmentCursor.TryParse(request.PageToken, out cursor))
        {
            throw Invalid("page_token: not a token returned by this API.");
        }
        var size = request.PageSize == 0 ? DefaultPageSize : request.PageSize;
        var page = await Guard(() => store.ScanAsync(request.WorkspaceId, request.Segment ?? new(), AsOf(request.AsOfMs), cursor, size, context.CancellationToken));
        var response = new ListSegmentUsersResponse
        {
            NextPageToken = page.Next?.ToString() ?? "",
        };
        response.Users.AddRange(page.Users);
        return response;
    }

    public override async Task<EvaluateUserResponse> EvaluateUser(EvaluateUserRequest request, ServerCallContext context)
    {
        Require(request.WorkspaceId, "workspace_id");
        Require(request.CustomerId, "customer_id");
        Validate(request.Segment);
        await Guard(async () => { await migration.EnsureUserAsync(request.WorkspaceId, request.CustomerId); return true; });
        var result = await Guard(() => store.EvaluateAsync(request.WorkspaceId, request.CustomerId, request.Segment ?? new(), AsOf(request.AsOfMs)));
        return ToResponse(result);
    }

    public override async Task<EvaluateUsersResponse> EvaluateUsers(EvaluateUsersRequest request, ServerCallContext context)
    {
        if (request.Lookups.Count is 0 or > MaxPageSize)
        {
            throw Invalid($"lookups: 1 to {MaxPageSize} look-ups.");
        }
        for (var i = 0; i < request.Lookups.Count; i++)
        {
            var lookup = request.Lookups[i];
            Require(lookup.WorkspaceId, $"lookups[{i}].workspace_id");
            Require(lookup.CustomerId, $"lookups[{i}].customer_id");
            Validate(lookup.Segment, $"lookups[{i}].segment");
        }
        // Every look-up's reads go out together (StackExchange.Redis pipelines them), so a batch costs about one
        // look-up's latency.
        var results = await Guard(() => Task.WhenAll(request.Lookups.Select(l =>
            store.EvaluateAsync(l.WorkspaceId, l.CustomerId, l.Segment ?? new(), AsOf(l.AsOfMs)))));
        var response = new EvaluateUsersResponse();
        response.Results.AddRange(results.Select(ToResponse));
        return response;
    }

    private static EvaluateUserResponse ToResponse((Ingestion.V1.User User, bool Matches)? result) => result is { } r
        ? new EvaluateUserResponse { Found = true, Matches = r.Matches, User = r.User }
        : new EvaluateUserResponse { Found = false };

    private long AsOf(long asOfMs) => asOfMs > 0 ? asOfMs : time.GetUtcNow().ToUnixTimeMilliseconds();

    private static void Require(string value, string field)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw Invalid($"{field}: required.");
        }
    }

    private static void Validate(SegmentDefinition? segment, string field = "segment")
    {
        if (SegmentRules.Validate(segment, field) is { } problem)
        {
            throw Invalid(problem);
        }
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    private static async Task<T> Guard<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (Exception ex) when (ex is RedisConnectionException or RedisTimeoutException)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "Storage is unavailable; retry shortly."));
        }
    }
}

internal static class SegmentsExtensions
{
    public static void AddSegments(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ISegmentStore, RedisSegmentStore>();
    }
}
