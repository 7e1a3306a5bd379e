using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using InboundBench.Infra;
using Integration.Campaigns.V1;
using Integration.Common.V1;
using Integration.Ingestion.V1;
using StackExchange.Redis;

namespace InboundBench.Faults;

/// <summary>
/// The campaign side of the fault suite: deliveries of a Business Event Triggered campaign (one Heap track request per
/// user and business event, the event's id in the body as <c>probe</c>) survive a kill -9 of campaigns and a spell of
/// 429s and 500s at Heap. The expected set is users × business events; the emulator's recorded events are read back.
/// <list type="bullet">
/// <item><b>acked</b>: deliveries the campaigns service accepted (the enqueued counts of the successful
/// TriggerBusinessEvent answers).</item>
/// <item><b>stored</b>: expected (identity, probe) pairs the emulator recorded.</item>
/// <item><b>lost</b>: acked and not recorded within the bounded wait.</item>
/// <item><b>duplicated</b>: (identity, probe) pairs recorded more than once, plus idempotency keys recorded more than once.</item>
/// </list>
/// </summary>
internal static class DeliveryFaults
{
    private const string BusinessEvent = "fault-probe";

    /// <summary>
    /// Heap answers every request after 300 ms, so deliveries pile up (64 in flight, the rest queued) while business
    /// events are still being raised; campaigns is killed -9 1.5 s in and restarted 2 s later. The client raises every
    /// business event until it gets an answer, with the same event id (as a caller that saw its call fail would).
    /// The dead runner's in-flight deliveries are taken over after Delivery:ClaimAfter (default 30 s).
    /// </summary>
    public static async Task<ScenarioResult> KillCampaignsAsync()
    {
        const int users = 100, probes = 20;
        await using var stack = await DeliveryStack.StartAsync();
        var ws = "fault-kc";
        await IngestUsersAsync(stack, ws, users);
        var campaignId = await CreateCampaignAsync(stack, ws);
        await stack.AddFaultAsync("""{"latency_ms":300}""");

        var clock = Stopwatch.StartNew();
        using var stopRaising = new CancellationTokenSource(TimeSpan.FromSeconds(45));
        var raising = RaiseAsync(stack, ws, probes, TimeSpan.FromMilliseconds(150), clock, stopRaising.Token);

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var recordedAtKill = (long)(await stack.HeapStatsAsync())["events_recorded"]!;
        stack.CampaignsProcess.Kill();
        var killedAt = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(2));
        await stack.StartCampaignsAsync();
        var restartedAt = clock.Elapsed;
        var raised = await raising;

        var acked = raised.Sum(r => r.Enqueued);
        var ackedBeforeKill = raised.Where(r => r.AnsweredAt < killedAt).Sum(r => r.Enqueued);
        var settled = await WaitForDeliveriesAsync(stack, ws, campaignId, acked, TimeSpan.FromSeconds(50), clock);
        var judged = await JudgeAsync(stack, ws, campaignId, raised, users);

        var notes = new List<string>
        {
            $"killed at {killedAt.TotalSeconds:0.0} s with {acked - ackedBeforeKill} of {acked} deliveries not yet accepted " +
            $"and {ackedBeforeKill - recordedAtKill} accepted but not yet at Heap; restarted at {restartedAt.TotalSeconds:0.0} s",
            $"business events whose call failed and was raised again with the same id: {raised.Count(r => r.FailedCalls > 0)} " +
            $"({raised.Sum(r => r.FailedCalls)} failed calls)",
            $"taken over from the killed runner (after Delivery:ClaimAfter, 30 s): {TakenOver(stack)} deliveries; {Settled(settled)}",
        };
        notes.AddRange(judged.Notes);
        var passed = judged.Passed && raised.Count == probes && raised.All(r => r.Enqueued == users) && acked > ackedBeforeKill
            && ackedBeforeKill > recordedAtKill;
        if (!passed && judged.Passed)
        {
            notes.Add("the kill did not land while deliveries were pending or business events were still being raised");
        }
        return new ScenarioResult("kill-campaigns", judged.Counts.Ledger, passed, notes, judged.Counts.Summary);
    }

    /// <summary>
    /// Heap answers the first 50 requests 429 with Retry-After: 2 and every second request 500 for 5 s; then the
    /// faults are cleared. Every delivery must arrive once, and no attempt after a 429 may start within 2 s of it.
    /// </summary>
    public static async Task<ScenarioResult> HeapFaultsAsync()
    {
        const int users = 125, probes = 4;
        await using var stack = await DeliveryStack.StartAsync();
        var ws = "fault-hf";
        await IngestUsersAsync(stack, ws, users);
        var campaignId = await CreateCampaignAsync(stack, ws);
        await stack.AddFaultAsync("""{"status":429,"retry_after_seconds":2,"count":50}""");
        await stack.AddFaultAsync("""{"status":500,"percent":50}""");

        var clock = Stopwatch.StartNew();
        using var stopRaising = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var raised = await RaiseAsync(stack, ws, probes, TimeSpan.Zero, clock, stopRaising.Token);
        var faultsFor = TimeSpan.FromSeconds(5) - clock.Elapsed;
        if (faultsFor > TimeSpan.Zero)
        {
            await Task.Delay(faultsFor);
        }
        await stack.ClearFaultsAsync();
        var clearedAt = clock.Elapsed;

        var acked = raised.Sum(r => r.Enqueued);
        var settled = await WaitForDeliveriesAsync(stack, ws, campaignId, acked, TimeSpan.FromSeconds(45), clock);
        var judged = await JudgeAsync(stack, ws, campaignId, raised, users);

        var notes = new List<string> { $"faults cleared at {clearedAt.TotalSeconds:0.0} s; {Settled(settled)}" };
        var heap = await stack.HeapStatsAsync();
        var rejected = heap["rejected"]!.AsObject();
        long Rejected(string status) => rejected.TryGetPropertyValue(status, out var n) && n is not null ? (long)n : 0;
        notes.Add($"Heap answered 429 x{Rejected("429")}, 500 x{Rejected("500")}, accepted {(long)heap["accepted"]!}");

        // Retry-After: no attempt of a delivery may start before the 429's answer + 2 s (attempt history of each record).
        var after429 = new List<long>();
        long attemptsTotal = 0, maxAttempts = 0;
        foreach (var record in judged.Records)
        {
            attemptsTotal += record.History.Count;
            maxAttempts = Math.Max(maxAttempts, record.History.Count);
            for (var i = 0; i + 1 < record.History.Count; i++)
            {
                if (record.History[i].Status == 429)
                {
                    after429.Add(record.History[i + 1].StartedMs - (record.History[i].StartedMs + record.History[i].DurationMs));
                }
            }
        }
        // Times are whole milliseconds (start and duration both truncated), so allow 1 ms.
        var early = after429.Count(gap => gap < 2000 - 1);
        notes.Add($"attempts {attemptsTotal} for {judged.Records.Count} deliveries (at most {maxAttempts} for one)");
        notes.Add(after429.Count == 0
            ? "no delivery got a 429 and was tried again: Retry-After not exercised"
            : $"Retry-After: {after429.Count} retries after a 429, {early} of them sooner than 2 s; " +
              $"gap after the 429 min {after429.Min() / 1000.0:0.000} s, median {Median(after429) / 1000.0:0.000} s");
        notes.AddRange(judged.Notes);

        var passed = judged.Passed && after429.Count > 0 && early == 0 && Rejected("500") > 0 && raised.Count == probes;
        return new ScenarioResult("heap-faults", judged.Counts.Ledger, passed, notes, judged.Counts.Summary);
    }

    /// <summary>One business event as the client raised it: how many deliveries its successful answer enqueued.</summary>
    private sealed record Raised(string Probe, int Enqueued, int FailedCalls, TimeSpan AnsweredAt);

    /// <summary>Raises business events probe-01… one after another; each is repeated with the same id until it is answered.</summary>
    private static async Task<List<Raised>> RaiseAsync(DeliveryStack stack, string ws, int count, TimeSpan pause, Stopwatch clock,
        CancellationToken stop)
    {
        var client = new Campaigns.CampaignsClient(stack.CampaignsChannel);
        var raised = new List<Raised>();
        for (var i = 1; i <= count && !stop.IsCancellationRequested; i++)
        {
            var probe = $"probe-{i:D2}";
            var failed = 0;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var answer = await client.TriggerBusinessEventAsync(new TriggerBusinessEventRequest
                    {
                        WorkspaceId = ws,
                        Name = BusinessEvent,
                        EventId = probe,
                        Attributes = { ["probe"] = new AttributeValue { StringValue = probe } },
                    }, DeliveryStack.AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop);
                    raised.Add(new Raised(probe, answer.Campaigns.Sum(c => c.Enqueued), failed, clock.Elapsed));
                    break;
                }
                catch (RpcException ex) when (ex.StatusCode is not StatusCode.Cancelled || !stop.IsCancellationRequested)
                {
                    failed++;
                    await Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None);
                }
                catch (RpcException) when (stop.IsCancellationRequested)
                {
                }
            }
            if (pause > TimeSpan.Zero)
            {
                await Task.Delay(pause, CancellationToken.None);
            }
        }
        return raised;
    }

    private static async Task IngestUsersAsync(DeliveryStack stack, string ws, int count)
    {
        var ingestion = new Ingestion.IngestionClient(stack.IngestionChannel);
        foreach (var batch in Enumerable.Range(1, count).Chunk(50))
        {
            var request = new IngestUsersRequest { WorkspaceId = ws, ConfigName = "bench" };
            foreach (var n in batch)
            {
                var user = new UserRecord { CustomerId = UserId(n), UpdatedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() };
                user.Attributes["first_name"] = new AttributeValue { StringValue = "Fault" };
                request.Users.Add(user);
            }
            await ingestion.IngestUsersAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
        }
    }

    private static string UserId(int n) => $"user-{n:D3}@example.com";

    /// <summary>An active campaign on business event "fault-probe" for every user of the workspace: one Heap track request each.</summary>
    private static async Task<string> CreateCampaignAsync(DeliveryStack stack, string ws)
    {
        const string body = """{"app_id":"APP","identity":"{{UserAttribute['ID']}}","event":"Fault Probe","properties":{"probe":"{{BusinessEventAttribute['probe']}}"}}""";
        var spec = new CampaignSpec { Name = "fault suite", BusinessEvent = new BusinessEventDelivery { BusinessEventName = BusinessEvent } };
        spec.Steps.Add(new RequestStep { Method = "POST", Url = stack.HeapTrackUrl, BodyFormat = BodyFormat.Json, Body = body.Replace("APP", DeliveryStack.HeapApp, StringComparison.Ordinal) });
        var campaign = await new Campaigns.CampaignsClient(stack.CampaignsChannel).CreateCampaignAsync(
            new CreateCampaignRequest { WorkspaceId = ws, Spec = spec, Activate = true }, DeliveryStack.AdminHeaders,
            deadline: DateTime.UtcNow.AddSeconds(30));
        return campaign.CampaignId;
    }

    /// <summary>
    /// Waits (bounded) until Heap recorded <paramref name="expected"/> events and the campaign has nothing pending;
    /// returns the scenario time when that was so, or null if it never was.
    /// </summary>
    private static async Task<TimeSpan?> WaitForDeliveriesAsync(DeliveryStack stack, string ws, string campaignId, long expected, TimeSpan timeout,
        Stopwatch scenario)
    {
        var deliveries = new Deliveries.DeliveriesClient(stack.CampaignsChannel);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            try
            {
                var recorded = (long)(await stack.HeapStatsAsync())["events_recorded"]!;
                var stats = await deliveries.GetDeliveryStatsAsync(new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = campaignId },
                    DeliveryStack.AdminHeaders, deadline: DateTime.UtcNow.AddSeconds(5));
                if (recorded >= expected && stats.Pending == 0)
                {
                    return scenario.Elapsed;
                }
            }
            catch (Exception ex) when (ex is RpcException or HttpRequestException or TaskCanceledException)
            {
            }
            await Task.Delay(250);
        }
        return null;
    }

    private static string Settled(TimeSpan? at) => at is { } t
        ? $"every delivery at Heap and none pending at {t.TotalSeconds:0.0} s"
        : "gave up waiting: not every delivery reached Heap in time";

    internal sealed record DeliveryCounts(long Acked, long Stored, long Lost, long Duplicated, long Unexpected, long IdempotentRepeats)
    {
        public LedgerCounts Ledger => new(Acked, Acked, Stored, Lost, Duplicated, Unexpected);

        public string Summary =>
            $"acked {Acked}, stored {Stored}, lost {Lost}, duplicated {Duplicated} (+{Unexpected} recorded outside the expected set; " +
            $"{IdempotentRepeats} repeats dropped by Heap's idempotency)";
    }

    internal sealed record Attempt(int Number, long StartedMs, long DurationMs, int Status, string? Outcome);

    internal sealed record DeliveryRecordView(string DeliveryId, string CustomerId, string TriggerId, string State, IReadOnlyList<Attempt> History);

    private sealed record Judgement(DeliveryCounts Counts, bool Passed, List<string> Notes, List<DeliveryRecordView> Records);

    /// <summary>Compares what Heap recorded with users × raised business events, and with the engine's own records.</summary>
    private static async Task<Judgement> JudgeAsync(DeliveryStack stack, string ws, string campaignId, List<Raised> raised, int users)
    {
        var notes = new List<string>();
        var expected = new HashSet<(string Identity, string Probe)>();
        foreach (var r in raised)
        {
            for (var n = 1; n <= users; n++)
            {
                expected.Add((UserId(n), r.Probe));
            }
        }
        var acked = raised.Sum(r => (long)r.Enqueued);

        var events = (await stack.HeapEventsAsync()).Select(e => e!.AsObject()).ToList();
        var byPair = events.GroupBy(e => ((string)e["identity"]!, (string)e["properties"]!["probe"]!))
            .ToDictionary(g => g.Key, g => g.ToList());
        var stored = expected.LongCount(byPair.ContainsKey);
        var lost = expected.Count - stored;
        var keys = events.Select(e => (string?)e["idempotency_key"]).ToList();
        var repeatedKeys = keys.GroupBy(k => k).Count(g => g.Key is null || g.Count() > 1);
        var duplicated = byPair.Count(kv => kv.Value.Count > 1) + repeatedKeys;
        var unexpected = byPair.Keys.LongCount(k => !expected.Contains(k));
        var heap = await stack.HeapStatsAsync();
        var counts = new DeliveryCounts(acked, stored, lost, duplicated, unexpected, (long)heap["idempotent_repeats"]!);

        // The engine's side: one record per delivery, every one succeeded, and Heap got each under the record's id as its key.
        var records = await ReadRecordsAsync(stack, ws);
        var byDelivery = records.ToDictionary(r => (r.CustomerId, r.TriggerId));
        var wrongKey = 0;
        foreach (var ((identity, probe), recordedEvents) in byPair)
        {
            if (!byDelivery.TryGetValue((identity, "biz:" + probe), out var record)
                || recordedEvents.Any(e => (string?)e["idempotency_key"] != record.DeliveryId))
            {
                wrongKey++;
            }
        }
        var states = string.Join(", ", records.GroupBy(r => r.State).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
        var stats = await new Deliveries.DeliveriesClient(stack.CampaignsChannel).GetDeliveryStatsAsync(
            new GetDeliveryStatsRequest { WorkspaceId = ws, CampaignId = campaignId }, DeliveryStack.AdminHeaders,
            deadline: DateTime.UtcNow.AddSeconds(10));
        notes.Add($"engine: {records.Count} delivery records ({states}); counters enqueued {stats.Enqueued}, attempts {stats.Sent}, " +
            $"succeeded {stats.Succeeded}, retried {stats.Retried}, throttled {stats.Throttled}, dead-lettered {stats.DeadLettered}, pending {stats.Pending}");
        notes.Add($"Heap: {events.Count} events recorded, {keys.Distinct().Count()} distinct idempotency keys, " +
            $"{counts.IdempotentRepeats} repeats of a key dropped; events whose key is not their delivery's id: {wrongKey}");

        var passed = lost == 0 && duplicated == 0 && unexpected == 0 && wrongKey == 0 && stored == acked && acked > 0
            && stats.Enqueued == acked && stats.DeadLettered == 0 && records.All(r => r.State == "succeeded");
        foreach (var process in new[] { stack.CampaignsProcess, stack.HeapProcess, stack.IngestionProcess })
        {
            if (process.HasExited)
            {
                notes.Add($"{process.Name} died");
                passed = false;
            }
        }
        return new Judgement(counts, passed, notes, records);
    }

    /// <summary>Every delivery record of the workspace (docs/keyspace.md: <c>dlv:{ws}:d:&lt;id&gt;</c>, <c>req</c> and <c>history</c> JSON).</summary>
    private static async Task<List<DeliveryRecordView>> ReadRecordsAsync(DeliveryStack stack, string ws)
    {
        await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.RedisConnectionString);
        var db = redis.GetDatabase();
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var records = new List<DeliveryRecordView>();
        var web = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        await foreach (var key in server.KeysAsync(pattern: $"dlv:{{{ws}}}:d:*", pageSize: 1000))
        {
            var fields = (await db.HashGetAllAsync(key)).ToDictionary(e => (string)e.Name!, e => (string?)e.Value);
            var request = JsonNode.Parse(fields["req"]!)!;
            var history = fields.GetValueOrDefault("history") is { Length: > 0 } json
                ? JsonSerializer.Deserialize<List<Attempt>>(json, web)!
                : [];
            records.Add(new DeliveryRecordView((string)request["deliveryId"]!, (string)request["customerId"]!, (string)request["triggerId"]!,
                fields.GetValueOrDefault("state") ?? "?", history.OrderBy(a => a.Number).ToList()));
        }
        return records;
    }

    /// <summary>How many deliveries the restarted campaigns took over (its log: "Took over N deliveries …").</summary>
    private static int TakenOver(DeliveryStack stack)
    {
        try
        {
            return File.ReadLines(stack.CampaignsProcess.LogPath)
                .Select(line => System.Text.RegularExpressions.Regex.Match(line, @"Took over (\d+) deliveries"))
                .Where(m => m.Success)
                .Sum(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return -1;
        }
    }

    private static double Median(List<long> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2.0;
    }
}
