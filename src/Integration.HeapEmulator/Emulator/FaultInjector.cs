using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Emulator;

/// <summary>
/// Faults for requests to Heap's API. Rules apply in the order they were added: latency adds up, and the first
/// rule with a status or a dropped connection that fires decides the answer. A percentage is spread evenly
/// and deterministically (50 %: every second request), so tests that use it are repeatable.
/// </summary>
internal sealed class FaultInjector
{
    private readonly Lock _lock = new();
    private readonly List<Rule> _rules = [];
    private int _nextId = 1;

    /// <summary>Checks a fault request; null when it is valid, else the problem.</summary>
    public static string? Validate(FaultRequest request) => request switch
    {
        { Status: null, LatencyMs: null, DropConnection: not true } =>
            "Give at least one of status, latency_ms or drop_connection: true.",
        { Status: not null, DropConnection: true } => "status and drop_connection exclude each other.",
        { Status: < 400 or > 599 } => "status must be an HTTP error status from 400 to 599.",
        { Count: < 1 } => "count must be at least 1.",
        { Percent: < 1 or > 100 } => "percent must be from 1 to 100.",
        { RetryAfterSeconds: not null, Status: null } => "retry_after_seconds needs a status.",
        { RetryAfterSeconds: < 0 } => "retry_after_seconds must not be negative.",
        { LatencyMs: < 0 or > 120_000 } => "latency_ms must be from 0 to 120000.",
        _ => null,
    };

    public FaultRule Add(FaultRequest request)
    {
        lock (_lock)
        {
            var rule = new Rule(_nextId++, request);
            _rules.Add(rule);
            return rule.ToView();
        }
    }

    public IReadOnlyList<FaultRule> All()
    {
        lock (_lock)
        {
            return [.. _rules.Select(rule => rule.ToView())];
        }
    }

    public void Clear()
    {
        lock (_lock)
        {
            _rules.Clear();
        }
    }

    /// <summary>Decides the fault (if any) for the request now arriving.</summary>
    public FaultDecision Next()
    {
        lock (_lock)
        {
            if (_rules.Count == 0)
            {
                return FaultDecision.None;
            }
            var latency = 0;
            Rule? decisive = null;
            foreach (var rule in _rules)
            {
                if ((rule.IsDecisive && decisive is not null) || !rule.Fires())
                {
                    continue;
                }
                latency += rule.LatencyMs;
                if (rule.IsDecisive)
                {
                    decisive = rule;
                }
            }
            _rules.RemoveAll(rule => rule.Remaining is 0);
            return new FaultDecision(TimeSpan.FromMilliseconds(latency), decisive?.Status, decisive?.RetryAfterSeconds, decisive?.DropConnection ?? false);
        }
    }

    private sealed class Rule(int id, FaultRequest request)
    {
        private int _credit;

        public int? Status => request.Status;

        public int? RetryAfterSeconds => request.RetryAfterSeconds;

        public bool DropConnection => request.DropConnection is true;

        public int LatencyMs => request.LatencyMs ?? 0;

        public int Percent => request.Percent ?? 100;

        public int? Remaining { get; private set; } = request.Count;

        public bool IsDecisive => Status is not null || DropConnection;

        public bool Fires()
        {
            _credit += Percent;
            if (_credit < 100)
            {
                return false;
            }
            _credit -= 100;
            Remaining--;
            return true;
        }

        public FaultRule ToView() => new(id, Status, RetryAfterSeconds, LatencyMs, DropConnection, Percent, Remaining);
    }
}

internal readonly record struct FaultDecision(TimeSpan Latency, int? Status, int? RetryAfterSeconds, bool DropConnection)
{
    public static readonly FaultDecision None = new(TimeSpan.Zero, null, null, false);
}
