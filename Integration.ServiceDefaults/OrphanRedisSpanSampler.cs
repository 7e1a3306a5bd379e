using System.Diagnostics;
using OpenTelemetry.Trace;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Samples like <c>ParentBased(TraceIdRatioBased(ratio))</c> — every trace at the default ratio of 1 —
/// except that a Redis command with no parent span is dropped.
/// Background loops poll Redis every few milliseconds; as root spans each poll would be a trace of its
/// own and bury the webhook traces in the dashboard. Redis commands made on behalf of real work are
/// children of that work's spans and are kept.
/// </summary>
public sealed class OrphanRedisSpanSampler : Sampler
{
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);
    private readonly ParentBasedSampler _inner;

    /// <param name="ratio">Share of new traces (webhooks arriving without a trace context) that are recorded; traces
    /// that arrive with a sampled context are always continued.</param>
    public OrphanRedisSpanSampler(double ratio = 1.0)
    {
        _inner = new ParentBasedSampler(ratio >= 1.0 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(ratio));
    }

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        if (samplingParameters.ParentContext.TraceId == default &&
            samplingParameters.Kind == ActivityKind.Client &&
            IsRedis(samplingParameters.Tags))
        {
            return Drop;
        }
        return _inner.ShouldSample(samplingParameters);
    }

    private static bool IsRedis(IEnumerable<KeyValuePair<string, object?>>? tags)
    {
        if (tags is null)
        {
            return false;
        }
        foreach (var (key, value) in tags)
        {
            if (key == "db.system" && value is "redis")
            {
                return true;
            }
        }
        return false;
    }
}
