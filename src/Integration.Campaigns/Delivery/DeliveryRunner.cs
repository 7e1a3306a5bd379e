using System.Collections.Concurrent;
using Integration.Campaigns.Safety;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Delivery;

/// <summary>
/// The delivery workers of this replica. One loop per destination lane reads that lane's stream through
/// the shared consumer group (so replicas split the work), with a bounded number of attempts in flight per
/// lane and overall: a slow or failing destination fills its own slots and nobody else's. A scheduler loop
/// moves due retries and delayed deliveries to their lanes; each lane loop also takes over entries that a
/// dead runner left pending (XAUTOCLAIM).
/// </summary>
internal sealed partial class DeliveryRunner(
    IDeliveryStore store,
    IDeliveryThrottle throttle,
    DeliverySender sender,
    DeliveryMetrics metrics,
    IOptions<DeliveryEngineOptions> options,
    TimeProvider time,
    NewLaneSignal newLanes,
    ILogger<DeliveryRunner> logger) : BackgroundService
{
    private const int MaxHistory = 50;
    private const int ReadBatch = 100;
    private static readonly TimeSpan DiscoveryInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PendingGaugeInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<(string Workspace, string Lane), Task> _lanes = new();
    private readonly ConcurrentDictionary<Task, bool> _inFlight = new();
    private SemaphoreSlim? _global;

    /// <summary>This runner's consumer name in the groups; unique per process start, so a restart never resumes a dead one's entries silently.</summary>
    public string Consumer { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (!settings.RunnerEnabled)
        {
            LogRunnerDisabled(logger);
            return;
        }
        _global = new SemaphoreSlim(settings.MaxConcurrency, settings.MaxConcurrency);
        LogRunnerStarted(logger, Consumer);
        try
        {
            await Task.WhenAll(DiscoveryLoopAsync(stoppingToken), SchedulerLoopAsync(stoppingToken));
        }
        finally
        {
            await Task.WhenAll(_lanes.Values);
            // Attempts already in flight finish and record their outcome (each is bounded by its timeout);
            // a process killed instead of stopped leaves them pending for another runner.
            await Task.WhenAll(_inFlight.Keys);
        }
    }

    private async Task DiscoveryLoopAsync(CancellationToken stoppingToken)
    {
        var nextGauge = DateTimeOffset.MinValue;
        while (!stoppingToken.IsCancellationRequested)
        {
            var newLane = newLanes.Next;
            try
            {
                var countPending = time.GetUtcNow() >= nextGauge;
                long pending = 0;
                foreach (var workspace in await store.GetWorkspacesAsync())
                {
                    foreach (var lane in (await store.GetLanesAsync(workspace)).Keys)
                    {
                        _ = _lanes.GetOrAdd((workspace, lane), key => LaneLoopAsync(key.Workspace, key.Lane, stoppingToken));
                    }
                    if (countPending)
                    {
                        pending += await store.CountPendingAsync(workspace);
                    }
                }
                if (countPending)
                {
                    metrics.Pending(pending);
                    nextGauge = time.GetUtcNow() + PendingGaugeInterval;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogLoopFailed(logger, "discovery", ex);
            }
            await Task.WhenAny(DelayAsync(DiscoveryInterval, stoppingToken), newLane);
        }
    }

    private async Task SchedulerLoopAsync(CancellationToken stoppingToken)
    {
        const int batch = 500;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var workspace in await store.GetWorkspacesAsync())
                {
                    while (!stoppingToken.IsCancellationRequested
                        && await store.MoveDueAsync(workspace, time.GetUtcNow().ToUnixTimeMilliseconds(), batch) == batch)
                    {
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogLoopFailed(logger, "scheduler", ex);
            }
            await DelayAsync(options.Value.SchedulerInterval, stoppingToken);
        }
    }

    private async Task LaneLoopAsync(string workspace, string lane, CancellationToken stoppingToken)
    {
        // Start on its own, so the discovery loop that created it never runs lane work inline.
        await Task.Yield();
        var settings = options.Value;
        var global = _global!;
        using var laneSlots = new SemaphoreSlim(settings.MaxConcurrencyPerDestination, settings.MaxConcurrencyPerDestination);
        var idleDelay = TimeSpan.FromMilliseconds(1);
        var nextClaim = DateTimeOffset.MinValue;
        var claimEvery = TimeSpan.FromMilliseconds(Math.Max(250, settings.ClaimAfter.TotalMilliseconds / 2));

        while (!stoppingToken.IsCancellationRequested)
        {
            var taken = 0;
            try
            {
                await laneSlots.WaitAsync(stoppingToken);
                try
                {
                    await global.WaitAsync(stoppingToken);
                }
                catch
                {
                    laneSlots.Release();
                    throw;
                }
                taken = 1;
                while (taken < ReadBatch && laneSlots.Wait(0))
                {
                    if (global.Wait(0))
                    {
                        taken++;
                    }
                    else
                    {
                        laneSlots.Release();
                        break;
                    }
                }

                IReadOnlyList<QueuedDelivery> entries = [];
                if (time.GetUtcNow() >= nextClaim)
                {
                    entries = await store.ClaimAsync(workspace, lane, Consumer, settings.ClaimAfter, taken);
                    nextClaim = time.GetUtcNow() + claimEvery;
                    if (entries.Count > 0)
                    {
                        LogClaimed(logger, entries.Count, lane);
                    }
                }
                if (entries.Count == 0)
                {
                    entries = await store.ReadAsync(workspace, lane, Consumer, taken);
                }

                foreach (var entry in entries.Take(taken))
                {
                    taken--;
                    var task = Task.Run(async () =>
                    {
                        try
                        {
                            await ProcessAsync(workspace, lane, entry);
                        }
                        finally
                        {
                            laneSlots.Release();
                            global.Release();
                        }
                    }, CancellationToken.None);
                    _inFlight.TryAdd(task, true);
                    _ = task.ContinueWith(t => _inFlight.TryRemove(t, out _), CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
                Release(laneSlots, global, ref taken);

                if (entries.Count == 0)
                {
                    await DelayAsync(idleDelay, stoppingToken);
                    idleDelay = TimeSpan.FromTicks(Math.Min(idleDelay.Ticks * 2, settings.IdlePollInterval.Ticks));
                }
                else
                {
                    idleDelay = TimeSpan.FromMilliseconds(1);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                Release(laneSlots, global, ref taken);
            }
            catch (Exception ex)
            {
                Release(laneSlots, global, ref taken);
                LogLoopFailed(logger, "lane " + lane, ex);
                await DelayAsync(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }

        // Wait for this lane's attempts before its semaphore is disposed.
        for (var i = 0; i < settings.MaxConcurrencyPerDestination; i++)
        {
            await laneSlots.WaitAsync(CancellationToken.None);
        }
    }

    private static void Release(SemaphoreSlim laneSlots, SemaphoreSlim global, ref int taken)
    {
        if (taken > 0)
        {
            laneSlots.Release(taken);
            global.Release(taken);
            taken = 0;
        }
    }

    /// <summary>One queued entry: load, check age, throttle, attempt, decide, record + acknowledge.</summary>
    internal async Task ProcessAsync(string workspace, string lane, QueuedDelivery entry)
    {
        var settings = options.Value;
        try
        {
            DeliveryRecord? record;
            try
            {
                record = await store.GetAsync(workspace, entry);
            }
            catch (System.Text.Json.JsonException ex)
            {
                LogCorruptRecord(logger, entry.DeliveryId, ex);
                record = null;
            }
            if (record is not { State: DeliveryRecord.Queued })
            {
                // Already finished by another runner (a takeover raced a slow one), discarded, or gone: just acknowledge.
                await store.FinishAsync(workspace, lane, entry, record?.Request.CampaignId ?? "_", Acknowledge);
                return;
            }

            var request = record.Request;
            var since = DateTimeOffset.FromUnixTimeMilliseconds(record.SinceMs);
            var now = time.GetUtcNow();
            DeliveryTarget target;
            try
            {
                target = DeliveryTarget.For(request);
            }
            catch (UriFormatException ex)
            {
                await DeadLetterAsync(workspace, lane, entry, record, null, RetryDecision.PermanentFailure, "invalid URL: " + ex.Message, now);
                return;
            }
            if (now > since + request.Options.MaxAge)
            {
                await DeadLetterAsync(workspace, lane, entry, record, target, RetryDecision.Expired, "older than the maximum age", now);
                return;
            }

            var wait = await throttle.AcquireAsync(target);
            if (wait > TimeSpan.Zero)
            {
                // Not an attempt and not a failure: the delivery waits for its turn in the destination's budget.
                var due = now + wait + TimeSpan.FromMilliseconds(Random.Shared.Next(0, 50));
                await store.FinishAsync(workspace, lane, entry, request.CampaignId, new DeliveryFinish(
                    DeliveryFinish.Throttled, record.Attempts, null, due.ToUnixTimeMilliseconds(), record.LastStatus, record.LastError,
                    null, null, null, null, [DeliveryCounterNames.Throttled]));
                metrics.Outcome("throttled");
                return;
            }

            var attempt = record.Attempts + 1;
            var timeout = request.Options.Timeout > settings.MaxAttemptTimeout ? settings.MaxAttemptTimeout
                : request.Options.Timeout <= TimeSpan.Zero ? TimeSpan.FromSeconds(5) : request.Options.Timeout;
            var startedAt = time.GetUtcNow();
            var result = await sender.SendAsync(request, target, attempt, timeout, settings.ResponseExcerptBytes, CancellationToken.None);
            metrics.AttemptDuration(result.Duration, result.Status);
            var finishedAt = time.GetUtcNow();
            var decision = RetryPolicy.Decide(result.Status, attempt, request.Options, since, finishedAt, result.RetryAfter,
                settings.BackoffBase, settings.BackoffCap, Random.Shared.NextDouble());

            var history = record.History.Append(new AttemptRecord(attempt, startedAt.ToUnixTimeMilliseconds(),
                    (long)result.Duration.TotalMilliseconds, result.Status ?? 0, result.Error, decision.Outcome,
                    decision.NextAttemptAt?.ToUnixTimeMilliseconds()))
                .TakeLast(MaxHistory).ToList();
            var log = new DeliveryLogRecord(request.DeliveryId, request.CustomerId,
                decision.IsDeadLetter ? "dead_lettered" : decision.Outcome, result.Status ?? 0, attempt,
                finishedAt.ToUnixTimeMilliseconds(), decision.IsDeadLetter ? decision.Outcome + Detail(result) : result.Error);

            if (decision.Outcome == RetryDecision.Succeeded)
            {
                await store.FinishAsync(workspace, lane, entry, request.CampaignId, new DeliveryFinish(
                    DeliveryFinish.Succeeded, attempt, history, 0, result.Status ?? 0, null, null, null, null, log,
                    [DeliveryCounterNames.Sent, DeliveryCounterNames.Succeeded])
                {
                    CustomerId = request.CustomerId,
                    ConversionWindowMs = request.Options.ConversionWindowMs,
                });
                metrics.Outcome("succeeded");
            }
            else if (decision.Outcome == RetryDecision.Retry)
            {
                await store.FinishAsync(workspace, lane, entry, request.CampaignId, new DeliveryFinish(
                    DeliveryFinish.Retry, attempt, history, decision.NextAttemptAt!.Value.ToUnixTimeMilliseconds(), result.Status ?? 0,
                    result.Error, null, null, null, log,
                    [DeliveryCounterNames.Sent, DeliveryCounterNames.Failed, DeliveryCounterNames.Retried]));
                metrics.Outcome("failed");
                metrics.Outcome("retried");
                LogRetry(logger, request.DeliveryId, request.CampaignId, attempt, result.Status ?? 0, result.Error, decision.NextAttemptAt.Value);
            }
            else
            {
                await store.FinishAsync(workspace, lane, entry, request.CampaignId, new DeliveryFinish(
                    DeliveryFinish.Dead, attempt, history, 0, result.Status ?? 0, result.Error, result.Excerpt, decision.Outcome,
                    DeliverySender.RedactedRequestJson(request, target), log,
                    [DeliveryCounterNames.Sent, DeliveryCounterNames.Failed, DeliveryCounterNames.DeadLettered]));
                metrics.Outcome("failed");
                metrics.Outcome("dead_lettered");
                LogDeadLettered(logger, request.DeliveryId, request.CampaignId, decision.Outcome, attempt, result.Status ?? 0,
                    Redaction.Url(request.Url));
            }
        }
        catch (Exception ex)
        {
            // The entry stays pending; after ClaimAfter a runner (maybe this one) takes it over.
            LogProcessFailed(logger, entry.DeliveryId, ex);
        }
    }

    private static string Detail(AttemptResult result) =>
        result.Error is { } error ? ": " + error : result.Status is { } status ? $": HTTP {status}" : "";

    private async Task DeadLetterAsync(string workspace, string lane, QueuedDelivery entry, DeliveryRecord record,
        DeliveryTarget? target, string reason, string detail, DateTimeOffset now)
    {
        var request = record.Request;
        var log = new DeliveryLogRecord(request.DeliveryId, request.CustomerId, "dead_lettered", 0, record.Attempts,
            now.ToUnixTimeMilliseconds(), reason + ": " + detail);
        await store.FinishAsync(workspace, lane, entry, request.CampaignId, new DeliveryFinish(
            DeliveryFinish.Dead, record.Attempts, record.History, 0, record.LastStatus, record.LastError ?? detail, record.LastExcerpt,
            reason, DeliverySender.RedactedRequestJson(request, target), log, [DeliveryCounterNames.DeadLettered]));
        metrics.Outcome("dead_lettered");
        LogDeadLettered(logger, request.DeliveryId, request.CampaignId, reason, record.Attempts, record.LastStatus, Redaction.Url(request.Url));
    }

    private static readonly DeliveryFinish Acknowledge = new("ack", 0, null, 0, 0, null, null, null, null, null, []);

    private async Task DelayAsync(TimeSpan delay, CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(delay, time, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(LogLevel.Information, "Delivery runner disabled (Delivery:RunnerEnabled=false).")]
    private static partial void LogRunnerDisabled(ILogger logger);

    [LoggerMessage(LogLevel.Information, "Delivery runner {Consumer} started.")]
    private static partial void LogRunnerStarted(ILogger logger, string consumer);

    [LoggerMessage(LogLevel.Error, "Delivery {Loop} loop failed; retrying.")]
    private static partial void LogLoopFailed(ILogger logger, string loop, Exception exception);

    [LoggerMessage(LogLevel.Information, "Took over {Count} deliveries of lane {Lane} left pending by a runner that stopped answering.")]
    private static partial void LogClaimed(ILogger logger, int count, string lane);

    [LoggerMessage(LogLevel.Error, "Delivery record {DeliveryId} cannot be read; acknowledged without sending.")]
    private static partial void LogCorruptRecord(ILogger logger, string deliveryId, Exception exception);

    [LoggerMessage(LogLevel.Debug, "Delivery {DeliveryId} of campaign {CampaignId}: attempt {Attempt} failed ({Status} {Error}); next attempt at {NextAttempt:o}.")]
    private static partial void LogRetry(ILogger logger, string deliveryId, string campaignId, int attempt, int status, string? error, DateTimeOffset nextAttempt);

    [LoggerMessage(LogLevel.Warning, "Delivery {DeliveryId} of campaign {CampaignId} dead-lettered ({Reason}) after {Attempts} attempts, last status {Status}, to {Url}.")]
    private static partial void LogDeadLettered(ILogger logger, string deliveryId, string campaignId, string reason, int attempts, int status, string url);

    [LoggerMessage(LogLevel.Error, "Delivery {DeliveryId} failed in the engine; it stays pending and will be taken over.")]
    private static partial void LogProcessFailed(ILogger logger, string deliveryId, Exception exception);
}
