using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Trace;

namespace Integration.Edge.Tests.Telemetry;

public sealed class OrphanRedisSpanSamplerTests
{
    private static readonly KeyValuePair<string, object?>[] RedisTags = [new("db.system", "redis")];
    private static readonly ActivityContext SampledParent =
        new(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded, isRemote: true);

    private static SamplingDecision Decide(OrphanRedisSpanSampler sampler, ActivityContext parent, ActivityKind kind,
        IEnumerable<KeyValuePair<string, object?>>? tags = null) =>
        sampler.ShouldSample(new SamplingParameters(parent, ActivityTraceId.CreateRandom(), "span", kind, tags)).Decision;

    [Fact]
    public void DropsARedisCommandThatHasNoParentSpan()
    {
        Assert.Equal(SamplingDecision.Drop, Decide(new OrphanRedisSpanSampler(), default, ActivityKind.Client, RedisTags));
    }

    [Fact]
    public void KeepsARedisCommandMadeOnBehalfOfTracedWork()
    {
        Assert.Equal(SamplingDecision.RecordAndSample, Decide(new OrphanRedisSpanSampler(), SampledParent, ActivityKind.Client, RedisTags));
    }

    [Fact]
    public void RecordsEveryNewTraceByDefault()
    {
        Assert.Equal(SamplingDecision.RecordAndSample, Decide(new OrphanRedisSpanSampler(), default, ActivityKind.Server));
    }

    [Fact]
    public void RecordsNoNewTraceAtRatioZeroButContinuesSampledOnes()
    {
        var sampler = new OrphanRedisSpanSampler(ratio: 0);

        Assert.Equal(SamplingDecision.Drop, Decide(sampler, default, ActivityKind.Server));
        Assert.Equal(SamplingDecision.RecordAndSample, Decide(sampler, SampledParent, ActivityKind.Server));
    }
}
