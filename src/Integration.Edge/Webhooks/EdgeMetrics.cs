using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Integration.Edge.Webhooks;

/// <summary>Meter "Integration.Edge": webhook requests by module, outcome and status, and their duration.</summary>
internal sealed class EdgeMetrics
{
    public const string MeterName = "Integration.Edge";

    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

    public EdgeMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _requests = meter.CreateCounter<long>("integration.edge.requests", "{request}", "Heap webhook requests answered by the edge.");
        _duration = meter.CreateHistogram<double>("integration.edge.request.duration", "ms", "Time to answer a Heap webhook.");
    }

    public void Record(string module, string outcome, int status, long startTimestamp)
    {
        var tags = new TagList
        {
            { "module", module },
            { "outcome", outcome },
            { "status", status },
        };
        _requests.Add(1, tags);
        _duration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds, tags);
    }
}
