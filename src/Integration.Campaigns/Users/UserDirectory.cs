using System.Runtime.CompilerServices;
using System.Text.Json;
using Grpc.Core;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using Integration.Segments.V1;
using SegmentsClient = Integration.Segments.V1.Segments.SegmentsClient;

namespace Integration.Campaigns.Users;

/// <summary>A user looked up for a campaign: the profile and whether they are in the audience.</summary>
internal sealed record UserLookup(User User, bool InAudience);

/// <summary>
/// Users and audiences, read from ingestion (which owns the user keyspace) through its Segments gRPC service.
/// </summary>
internal interface IUserDirectory
{
    /// <summary>The user and whether they match <paramref name="audience"/>; null if unknown.</summary>
    Task<UserLookup?> FindAsync(string workspaceId, string customerId, SegmentDefinition? audience, DateTimeOffset asOf, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="FindAsync"/> for many users of one workspace in one call per 1000: answers in the order asked,
    /// null for an unknown user.
    /// </summary>
    Task<IReadOnlyList<UserLookup?>> FindManyAsync(string workspaceId, IReadOnlyList<(string CustomerId, SegmentDefinition? Audience)> lookups,
        DateTimeOffset asOf, CancellationToken cancellationToken);

    /// <summary>Every user of the audience, page by page.</summary>
    IAsyncEnumerable<User> AudienceAsync(string workspaceId, SegmentDefinition? audience, DateTimeOffset asOf, CancellationToken cancellationToken);

    Task<CountSegmentResponse> CountAsync(string workspaceId, SegmentDefinition? segment, DateTimeOffset asOf, CancellationToken cancellationToken);

    Task<ListSegmentUsersResponse> PageAsync(string workspaceId, SegmentDefinition? segment, DateTimeOffset asOf, int pageSize, string pageToken, CancellationToken cancellationToken);
}

internal sealed class GrpcUserDirectory(SegmentsClient segments) : IUserDirectory
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private const int AudiencePageSize = 500;
    private const int MaxLookupsPerCall = 1000;

    public async Task<UserLookup?> FindAsync(string workspaceId, string customerId, SegmentDefinition? audience, DateTimeOffset asOf,
        CancellationToken cancellationToken)
    {
        var reply = await segments.EvaluateUserAsync(new EvaluateUserRequest
        {
            WorkspaceId = workspaceId,
            CustomerId = customerId,
            Segment = audience ?? new SegmentDefinition(),
            AsOfMs = asOf.ToUnixTimeMilliseconds(),
        }, deadline: Deadline(), cancellationToken: cancellationToken);
        return ToLookup(reply);
    }

    public async Task<IReadOnlyList<UserLookup?>> FindManyAsync(string workspaceId,
        IReadOnlyList<(string CustomerId, SegmentDefinition? Audience)> lookups, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        var results = new List<UserLookup?>(lookups.Count);
        var asOfMs = asOf.ToUnixTimeMilliseconds();
        foreach (var chunk in lookups.Chunk(MaxLookupsPerCall))
        {
            var request = new EvaluateUsersRequest();
            request.Lookups.AddRange(chunk.Select(l => new EvaluateUserRequest
            {
                WorkspaceId = workspaceId,
                CustomerId = l.CustomerId,
                Segment = l.Audience ?? new SegmentDefinition(),
                AsOfMs = asOfMs,
            }));
            var reply = await segments.EvaluateUsersAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
            results.AddRange(reply.Results.Select(ToLookup));
        }
        return results;
    }

    public async IAsyncEnumerable<User> AudienceAsync(string workspaceId, SegmentDefinition? audience, DateTimeOffset asOf,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var token = "";
        do
        {
            var page = await PageAsync(workspaceId, audience, asOf, AudiencePageSize, token, cancellationToken);
            foreach (var user in page.Users)
            {
                yield return user;
            }
            token = page.NextPageToken;
        }
        while (token.Length > 0);
    }

    public async Task<CountSegmentResponse> CountAsync(string workspaceId, SegmentDefinition? segment, DateTimeOffset asOf,
        CancellationToken cancellationToken) =>
        await segments.CountSegmentAsync(new CountSegmentRequest
        {
            WorkspaceId = workspaceId,
            Segment = segment ?? new SegmentDefinition(),
            AsOfMs = asOf.ToUnixTimeMilliseconds(),
        }, deadline: Deadline(), cancellationToken: cancellationToken);

    public async Task<ListSegmentUsersResponse> PageAsync(string workspaceId, SegmentDefinition? segment, DateTimeOffset asOf, int pageSize,
        string pageToken, CancellationToken cancellationToken) =>
        await segments.ListSegmentUsersAsync(new ListSegmentUsersRequest
        {
            WorkspaceId = workspaceId,
            Segment = segment ?? new SegmentDefinition(),
            AsOfMs = asOf.ToUnixTimeMilliseconds(),
            PageSize = pageSize,
            PageToken = pageToken,
        }, deadline: Deadline(), cancellationToken: cancellationToken);

    private static UserLookup? ToLookup(EvaluateUserResponse reply) => reply.Found ? new UserLookup(reply.User, reply.Matches) : null;

    private static DateTime Deadline() => DateTime.UtcNow.Add(CallTimeout);
}

/// <summary>Event attributes travel through the stream and pending steps as one JSON object of scalars.</summary>
internal static class AttributeJson
{
    public static Dictionary<string, AttributeValue> Parse(string? json)
    {
        var result = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(json))
        {
            return result;
        }
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return result;
            }
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var value = property.Value.ValueKind switch
                {
                    JsonValueKind.String => new AttributeValue { StringValue = property.Value.GetString() },
                    JsonValueKind.Number => new AttributeValue { NumberValue = property.Value.GetDouble() },
                    JsonValueKind.True => new AttributeValue { BoolValue = true },
                    JsonValueKind.False => new AttributeValue { BoolValue = false },
                    _ => null,
                };
                if (value is not null)
                {
                    result[property.Name] = value;
                }
            }
        }
        catch (JsonException)
        {
        }
        return result;
    }

    public static string Write(IReadOnlyDictionary<string, AttributeValue> attributes)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            foreach (var (key, value) in attributes)
            {
                switch (value.KindCase)
                {
                    case AttributeValue.KindOneofCase.StringValue: writer.WriteString(key, value.StringValue); break;
                    case AttributeValue.KindOneofCase.NumberValue: writer.WriteNumber(key, value.NumberValue); break;
                    case AttributeValue.KindOneofCase.BoolValue: writer.WriteBoolean(key, value.BoolValue); break;
                }
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}

internal static class RpcFailures
{
    /// <summary>Ingestion unreachable: the caller should retry, nothing is lost.</summary>
    public static bool IsTransient(RpcException ex) =>
        ex.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Aborted;
}
