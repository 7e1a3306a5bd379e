using System.Diagnostics.Metrics;

namespace Integration.Edge.RateLimiting;

/// <summary>
/// The limiter's instruments. Workspace ids are a bounded set (only authenticated workspaces are counted),
/// so they are a safe tag.
/// </summary>
internal sealed class RateLimitMetrics
{
    public const string MeterName = "Integration.Edge.RateLimit";

    private const string WorkspaceTag = "workspace";
    private const string OutcomeTag = "outcome";

    private readonly Counter<long> _allowed;
    private readonly Counter<long> _rejected;
    private readonly Histogram<double> _duration;

    public RateLimitMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _allowed = meter.CreateCounter<long>(
            "integration.ratelimit.allowed", "{request}", "Requests the rate limiter let through.");
        _rejected = meter.CreateCounter<long>(
            "integration.ratelimit.rejected", "{request}", "Requests refused with 429 because the workspace is over its limit.");
        _duration = meter.CreateHistogram<double>(
            "integration.ratelimit.duration", "ms", "Time the rate limiter adds to a request (one Redis round trip).");
    }

    public void Allowed(string workspaceId, double milliseconds)
    {
        _allowed.Add(1, new KeyValuePair<string, object?>(WorkspaceTag, workspaceId));
        _duration.Record(milliseconds, new KeyValuePair<string, object?>(OutcomeTag, "allowed"));
    }

    public void Rejected(string workspaceId, double milliseconds)
    {
        _rejected.Add(1, new KeyValuePair<string, object?>(WorkspaceTag, workspaceId));
        _duration.Record(milliseconds, new KeyValuePair<string, object?>(OutcomeTag, "rejected"));
    }

    public void Unavailable(double milliseconds) =>
        _duration.Record(milliseconds, new KeyValuePair<string, object?>(OutcomeTag, "unavailable"));
}
