using System.Collections.Concurrent;
using System.Globalization;
using Integration.HeapEmulator.Inspection;

namespace Integration.HeapEmulator.Emulator;

/// <summary>Counters of what Heap's API answered since start or the last reset.</summary>
internal sealed class ApiStats(EmulatorStore store)
{
    private readonly ConcurrentDictionary<int, long> _rejected = new();
    private long _accepted;
    private long _faults;
    private long _dropped;

    public void Accepted() => Interlocked.Increment(ref _accepted);

    public void Rejected(int status) => _rejected.AddOrUpdate(status, 1, (_, count) => count + 1);

    public void FaultInjected(int status)
    {
        Interlocked.Increment(ref _faults);
        Rejected(status);
    }

    public void ConnectionDropped()
    {
        Interlocked.Increment(ref _faults);
        Interlocked.Increment(ref _dropped);
    }

    public EmulatorStats ToView()
    {
        var recorded = store.Counts();
        return new EmulatorStats(
            Interlocked.Read(ref _accepted),
            _rejected.OrderBy(pair => pair.Key)
                .ToDictionary(pair => pair.Key.ToString(CultureInfo.InvariantCulture), pair => pair.Value),
            recorded.IdempotentRepeats,
            Interlocked.Read(ref _faults),
            Interlocked.Read(ref _dropped),
            recorded.Events,
            recorded.EventsEvicted,
            recorded.Users,
            recorded.UsersEvicted);
    }

    public void Reset()
    {
        _rejected.Clear();
        Interlocked.Exchange(ref _accepted, 0);
        Interlocked.Exchange(ref _faults, 0);
        Interlocked.Exchange(ref _dropped, 0);
    }
}
