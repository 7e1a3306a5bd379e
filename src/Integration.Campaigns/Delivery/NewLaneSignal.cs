using System.Collections.Concurrent;

namespace Integration.Campaigns.Delivery;

/// <summary>
/// Wakes this process's runner when a delivery is enqueued to a lane this process has not enqueued to before, so
/// the first delivery to a new destination does not wait for the next discovery round (every second). Other
/// replicas still find the lane in their own round.
/// </summary>
internal sealed class NewLaneSignal
{
    private readonly ConcurrentDictionary<(string Workspace, string Lane), bool> _seen = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next new lane; take it before a discovery round, so a lane added during the round wakes the wait after it.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    public void Enqueued(string workspace, string lane)
    {
        if (_seen.TryAdd((workspace, lane), true))
        {
            Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }
}
