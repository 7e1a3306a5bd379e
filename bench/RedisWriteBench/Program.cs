// What storing a record costs Redis itself, on a bare redis-server (AOF everysec, as the AppHost runs it) with nothing
// else on the machine competing: the store's own write (RedisActivityStore and write.lua, the records of a call in one
// script call) side by side, in the same run, with a floor: the same four commands an event needs (HMGET, XADD,
// ZADD, HSET; a user update HMGET + HSET), with the same keys and values, sent as MULTI/EXEC without any Lua.
// Prints Redis's CPU per record (its process, the AOF's threads and rewrite forks included) and INFO commandstats.
//   bench/redis-write.sh [--records 140000] [--users 5000] [--per-call 7] [--in-flight 8] [--rounds 2]
using System.Diagnostics;
using System.Globalization;
using Google.Protobuf.Collections;
using Integration.Common.V1;
using Integration.Domain;
using Integration.Ingestion.Storage;
using Integration.Ingestion.V1;
using InboundBench.Infra;
using RateLimitBench;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

var settings = Settings.Parse(args);
using var server = await RedisProcess.StartAsync();
await using var redis = await ConnectionMultiplexer.ConnectAsync(server.ConnectionString + ",allowAdmin=true");
var db = redis.GetDatabase();
var endpoint = redis.GetServer(redis.GetEndPoints()[0]);
var pid = int.Parse(((string)(await db.ExecuteAsync("INFO", "server"))!).Split("process_id:")[1].Split('\r')[0], CultureInfo.InvariantCulture);

var storage = Options.Create(new StorageOptions { StreamDictionarySamples = 0 });
var store = new RedisActivityStore(redis, TimeProvider.System, storage, new Retention90Days(),
    new StreamDictionaries(redis, storage, NullLogger<StreamDictionaries>.Instance));
var calls = Records.Build(settings).Chunk(settings.PerCall).ToArray();

Console.WriteLine($"redis write bench: {Environment.ProcessorCount} cores, load average {Machine.LoadAverage()}");
Console.WriteLine($"  {settings.Records} records (80 % events, 7 attributes each) of {settings.Users} users, {settings.PerCall} records a call, " +
    $"{settings.InFlight} calls in flight, AOF everysec, stream compression off; {settings.Rounds} rounds of each, alternating");

var results = new Dictionary<string, List<double>>();
for (var round = 0; round < settings.Rounds; round++)
{
    foreach (var (name, send) in new (string, Func<RecordWrite[], Task>)[]
    {
        ("write.lua (the store's write)", call => store.WriteAsync(call)),
        ("same commands, no Lua (MULTI/EXEC)", call => Floor.SendAsync(db, call)),
    })
    {
        await endpoint.FlushAllDatabasesAsync();
        await db.ExecuteAsync("BGREWRITEAOF");
        await Task.Delay(1000);
        var statsBefore = ServerStats.Parse(await endpoint.InfoRawAsync("commandstats") ?? "");
        var before = Machine.CpuSeconds(pid);
        var clock = Stopwatch.StartNew();
        await RunAsync(calls, settings.InFlight, send);
        clock.Stop();
        // The Redis process's CPU: its threads (the AOF's fsync included) and the rewrite forks it waited for.
        var cpu = (Machine.CpuSeconds(pid) - before) * 1e6 / settings.Records;
        var stats = ServerStats.Parse(await endpoint.InfoRawAsync("commandstats") ?? "").Since(statsBefore);
        (results.TryGetValue(name, out var list) ? list : results[name] = []).Add(cpu);
        Console.WriteLine($"  round {round + 1}, {name}: redis cpu {cpu:F1} µs a record ({settings.Records / clock.Elapsed.TotalSeconds:F0} records/s)");
        foreach (var (command, count, usec) in stats.ByTime().Where(c => c.Command is not ("info" or "config|resetstat")))
        {
            Console.WriteLine($"      {command,-10} {count / (double)settings.Records,6:F3} calls {usec / (double)settings.Records,7:F2} µs a record");
        }
    }
}
var script = results.First().Value;
var floor = results.Last().Value;
Console.WriteLine($"redis cpu per record: write.lua {string.Join(" / ", script.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))} µs, " +
    $"the commands alone {string.Join(" / ", floor.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)))} µs " +
    $"(write.lua / floor: {script.Average() / floor.Average():F2})");
return 0;

static async Task RunAsync(RecordWrite[][] calls, int inFlight, Func<RecordWrite[], Task> send)
{
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, inFlight).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < calls.Length)
        {
            await send(calls[i]);
        }
    }));
}

internal sealed record Settings(int Records, int Users, int PerCall, int InFlight, int Rounds)
{
    public static Settings Parse(string[] args)
    {
        var s = new Settings(140_000, 5_000, 7, 8, 2);
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) && v > 0
                ? v : throw new ArgumentException($"{args[i]} needs a positive number");
            s = args[i++] switch
            {
                "--records" => s with { Records = value },
                "--users" => s with { Users = value },
                "--per-call" => s with { PerCall = value },
                "--in-flight" => s with { InFlight = value },
                "--rounds" => s with { Rounds = value },
                var other => throw new ArgumentException($"unknown option {other}: --records, --users, --per-call, --in-flight, --rounds"),
            };
        }
        return s;
    }
}

internal sealed class Retention90Days : IRetentionPolicy
{
    public ValueTask<int> RetentionDaysAsync(string workspaceId) => ValueTask.FromResult(90);
}

/// <summary>Records as the inbound bench sends them: 80 % events of 5 names, 20 % profile updates; every id unique.</summary>
internal static class Records
{
    private static readonly string[] Names = ["Viewed Page", "Added To Cart", "Purchased", "Signed Up", "Clicked Banner"];

    public static List<RecordWrite> Build(Settings settings)
    {
        var random = new Random(1);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var records = new List<RecordWrite>(settings.Records);
        for (var i = 0; i < settings.Records; i++)
        {
            var user = new UserRecord { CustomerId = $"user-{random.Next(settings.Users)}" };
            var id = Guid.NewGuid().ToString("N");
            if (random.NextDouble() < 0.8)
            {
                var e = new EventRecord { User = user, EventName = Names[random.Next(Names.Length)], EventTimeMs = now - random.Next(86_400_000) };
                Attributes(e.Attributes, random);
                records.Add(RecordWrite.ForEvent(Workspace, "bench-config", e, id, ""));
            }
            else
            {
                user.UpdatedAtMs = now + i;
                Attributes(user.Attributes, random);
                records.Add(RecordWrite.ForUser(Workspace, user, id));
            }
        }
        return records;
    }

    private const string Workspace = "bench-ws";

    private static void Attributes(MapField<string, AttributeValue> attributes, Random random)
    {
        attributes["path"] = new AttributeValue { StringValue = $"/products/{random.Next(1000)}" };
        attributes["referrer"] = new AttributeValue { StringValue = "https://www.example.com/" };
        attributes["browser"] = new AttributeValue { StringValue = random.Next(2) == 0 ? "Chrome" : "Firefox" };
        attributes["country"] = new AttributeValue { StringValue = "US" };
        attributes["price"] = new AttributeValue { NumberValue = random.Next(10_000) / 100.0 };
        attributes["quantity"] = new AttributeValue { NumberValue = random.Next(1, 5) };
        attributes["logged_in"] = new AttributeValue { BoolValue = random.Next(2) == 0 };
    }
}

/// <summary>
/// The floor: the commands the write needs, with the same keys and values as the store's (entry bytes included), sent
/// as one MULTI/EXEC a call: what Redis spends on the data itself, without the script's reads deciding anything.
/// Left out: the users index's ZADD NX of a user's first write (5,000 of 140,000 records with the defaults).
/// </summary>
internal static class Floor
{
    public static async Task SendAsync(IDatabase db, RecordWrite[] call)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var floor = now - (long)TimeSpan.FromDays(90).TotalMilliseconds;
        var transaction = db.CreateTransaction();
        var replies = new List<Task>();
        foreach (var record in call)
        {
            var marker = UserKeyspace.MarkerField(record.Id);
            if (record.Event is { } e)
            {
                var cid = e.User.CustomerId;
                var user = UserKeyspace.User(record.WorkspaceId, cid);
                RedisValue c = "c:" + e.EventName, f = "f:" + e.EventName, l = "l:" + e.EventName;
                replies.Add(transaction.HashGetAsync(user, [UserKeyspace.MergedField, UserKeyspace.UpdatedAtField, "_t", marker, c, f, l, "_o"]));
                var entry = EventStream.Encode(record.StreamEntry(now));
                replies.Add(transaction.ExecuteAsync("XADD", UserKeyspace.Stream(record.WorkspaceId, cid), "MINID", "~", floor, "*", EventStream.Field, entry));
                replies.Add(transaction.SortedSetAddAsync(UserKeyspace.Events(record.WorkspaceId, cid),
                    (RedisValue)System.Text.Encoding.ASCII.GetBytes(Base36(now) + " ").Concat(UserKeyspace.EventNameKey(e.EventName)).ToArray(), e.EventTimeMs));
                replies.Add(transaction.HashSetAsync(user, [new(marker, now / 1000), new(c, 1), new(f, e.EventTimeMs), new(l, e.EventTimeMs),
                    new(UserKeyspace.MergedField, 1)]));
            }
            else
            {
                var u = record.User!;
                var user = UserKeyspace.User(record.WorkspaceId, u.CustomerId);
                replies.Add(transaction.HashGetAsync(user, [UserKeyspace.MergedField, UserKeyspace.UpdatedAtField, "_t", marker]));
                var fields = new List<HashEntry> { new(marker, now / 1000), new(UserKeyspace.UpdatedAtField, u.UpdatedAtMs) };
                fields.AddRange(u.Attributes.Select(a => new HashEntry(UserKeyspace.AttributePrefix + a.Key, AttributeJson.ToJson(a.Value))));
                replies.Add(transaction.HashSetAsync(user, fields.ToArray()));
            }
        }
        if (!await transaction.ExecuteAsync())
        {
            throw new InvalidOperationException("MULTI/EXEC was not executed");
        }
        await Task.WhenAll(replies);
    }

    private static string Base36(long value)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        var text = "";
        do
        {
            text = digits[(int)(value % 36)] + text;
            value /= 36;
        }
        while (value > 0);
        return text;
    }
}
