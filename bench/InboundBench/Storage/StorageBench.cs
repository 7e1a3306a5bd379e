using System.Globalization;
using System.Text;
using InboundBench.Infra;
using Integration.Domain;
using StackExchange.Redis;

namespace InboundBench.Storage;

internal sealed record StorageSettings(int Events, int Users, int Concurrency, string? ResultsFile);

/// <summary>
/// Redis memory per stored event (issue 14): realistic Heap event webhooks of many users sent through the real edge →
/// gRPC → ingestion → a fresh redis-server, then <c>used_memory</c> after every webhook was acknowledged minus before,
/// per event and per user, and where the bytes are (MEMORY USAGE summed per key kind).
/// </summary>
internal static class StorageBench
{
    public const double MaxBytesPerEvent = 250;

    private static readonly string[] EventNames = ["Page Viewed", "Product Viewed", "Added To Cart", "Checkout Started", "Order Completed", "Search"];
    private static readonly string[] Categories = ["electronics", "books", "garden", "toys", "grocery", "fashion", "sports", "beauty"];
    private static readonly string[] Browsers = ["Chrome", "Safari", "Firefox", "Edge", "Samsung Internet"];
    private static readonly string[] Countries = ["DE", "US", "FR", "GB", "NL", "ES", "IT", "PL", "SE", "BR"];
    private static readonly string[] Referrers = ["https://www.google.com/", "https://www.facebook.com/", "", "https://t.co/", "https://www.bing.com/", "https://news.example.org/deals"];
    private static readonly string[] Sources = ["google", "newsletter", "facebook", "", "instagram", "affiliate"];
    private static readonly string[] FirstNames = ["Alice", "Bob", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustavo", "Hiroshi", "Ines", "Jamal"];

    public static async Task<int> RunAsync(StorageSettings settings)
    {
        Console.WriteLine($"machine    {Environment.ProcessorCount} cores, load average {Machine.LoadAverage()} before the run");
        await using var stack = await InboundStack.StartAsync();
        var workspace = (await stack.ProvisionAsync("sw", 1, 100_000))[0];

        var configuration = ConfigurationOptions.Parse(stack.RedisConnectionString);
        configuration.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(configuration);
        var server = redis.GetServer(redis.GetEndPoints()[0]);
        var db = redis.GetDatabase();
        var before = await UsedMemoryAsync(server);
        var cpuBefore = await RedisCpuAsync(server);

        // Each user does 10–20 events (average events / users), interleaved over users as live traffic is.
        var plan = Plan(settings.Events, settings.Users);
        Console.WriteLine($"load       {plan.Length} event webhooks of {settings.Users} users (6-8 attributes each, {EventNames.Length} event names), " +
            $"{settings.Concurrency} concurrent requests, one workspace");
        var (acked, bodyBytes, seconds) = await SendAsync(stack.EdgeAddress, workspace, plan, settings.Concurrency);
        var after = await UsedMemoryAsync(server);
        var cpuAfter = await RedisCpuAsync(server);

        long stored = 0;
        foreach (var key in EventStream.Keys(workspace.Id))
        {
            stored += await db.StreamLengthAsync(key);
        }
        var users = 0L;
        for (var p = 0; p < EventStream.Partitions; p++)
        {
            users += await db.SortedSetLengthAsync($"u{EventStream.Tag(workspace.Id, p)}{workspace.Id}");
        }
        var delta = after - before;
        Console.WriteLine($"sent       {acked} acknowledged in {seconds:0.0} s ({acked / seconds:0}/s), average webhook body {bodyBytes / (double)acked:0} B; " +
            $"stored {stored} events (stream entries) of {users} users; redis cpu {(cpuAfter - cpuBefore) * 1e6 / acked:0.0} µs per webhook");
        Console.WriteLine($"memory     used_memory {before:N0} B before, {after:N0} B after: {delta:N0} B = {delta / (double)stored:0.0} B per event, " +
            $"{delta / (double)Math.Max(1, users):0} B per user");

        // The last entries: the workspace's first ones are written uncompressed (its compression dictionary is trained on them).
        var sample = await db.StreamRangeAsync(EventStream.Key(workspace.Id, 0), count: 200, messageOrder: Order.Descending);
        var sampleBytes = sample.Select(e => ((byte[]?)e[EventStream.Field])?.Length ?? 0).DefaultIfEmpty().Average();
        var compressed = sample.Count(e => EventStream.DictionaryOf((byte[]?)e[EventStream.Field] ?? []) is not null);
        Console.WriteLine($"entries    the stream entry's value ('{EventStream.Field}') averages {sampleBytes:0} B (last {sample.Length} of partition 0, " +
            $"{compressed} compressed)");
        await BreakdownAsync(server, db, stored);

        var perEvent = delta / (double)stored;
        var ok = acked == plan.Length && stored == acked && perEvent <= MaxBytesPerEvent;
        Console.WriteLine($"verdict    {perEvent:0.0} B of Redis memory per stored event (target <= {MaxBytesPerEvent:0} B), " +
            $"{acked}/{plan.Length} acknowledged, {stored} stored: {(ok ? "met" : "NOT met")}");
        if (settings.ResultsFile is { } file)
        {
            await File.WriteAllTextAsync(file, string.Create(CultureInfo.InvariantCulture,
                $"storage|{stored}|{users}|{perEvent:0.0}|{delta / (double)Math.Max(1, users):0}\n"));
        }
        return ok ? 0 : 1;
    }

    /// <summary>The user of every webhook, in sending order: each user 10–20 events, shuffled (a fixed seed: the same plan every run).</summary>
    private static int[] Plan(int events, int users)
    {
        var random = new Random(14);
        var perUser = new int[users];
        var total = 0;
        for (var u = 0; u < users; u++)
        {
            total += perUser[u] = 10 + random.Next(11);
        }
        // Scale to the requested total (keeps 10–20 a user when events / users is about 15).
        var plan = new List<int>(events);
        for (var u = 0; u < users && plan.Count < events; u++)
        {
            var n = Math.Max(1, (int)Math.Round(perUser[u] * (double)events / total));
            for (var i = 0; i < n && plan.Count < events; i++)
            {
                plan.Add(u);
            }
        }
        while (plan.Count < events)
        {
            plan.Add(random.Next(users));
        }
        var array = plan.ToArray();
        random.Shuffle(array);
        return array;
    }

    private static async Task<(long Acked, long BodyBytes, double Seconds)> SendAsync(Uri edge, Workspace workspace, int[] plan, int concurrency)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = edge, Timeout = TimeSpan.FromSeconds(30) };
        long next = -1, acked = 0, bodyBytes = 0, failed = 0;
        var sequence = new int[plan.Max() + 1];
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= plan.Length)
                {
                    return;
                }
                var user = plan[i];
                var body = Body(user, Interlocked.Increment(ref sequence[user]), i);
                for (var attempt = 0; ; attempt++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/partner/heap-analytics/events/?configName={InboundStack.ConfigName}")
                    {
                        Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } },
                    };
                    request.Headers.TryAddWithoutValidation("Authorization", workspace.BasicAuthorization);
                    using var response = await http.SendAsync(request);
                    if (response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref acked);
                        Interlocked.Add(ref bodyBytes, body.Length);
                        break;
                    }
                    // 429 (the workspace's budget) and 503 are answered before anything is stored: send again.
                    if (attempt >= 20 || (int)response.StatusCode is not (429 or 503))
                    {
                        Interlocked.Increment(ref failed);
                        Console.Error.WriteLine($"webhook {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                        break;
                    }
                    await Task.Delay(50 * (attempt + 1));
                }
            }
        }));
        return (acked, bodyBytes, clock.Elapsed.TotalSeconds);
    }

    /// <summary>A Heap event webhook: the user's profile fields and 6–8 event attributes with realistic, varying values.</summary>
    private static byte[] Body(int user, int n, long i)
    {
        var email = $"user{user}.{FirstNames[user % FirstNames.Length].ToLowerInvariant()}@example.com";
        var name = EventNames[(int)((user * 7 + n * 3) % EventNames.Length)];
        var category = Categories[(user + n) % Categories.Length];
        var product = (user * 131 + n * 17) % 5000;
        var time = DateTimeOffset.UtcNow.AddMinutes(-((i * 37) % 100_000)).ToUnixTimeMilliseconds();
        var attributes = new StringBuilder();
        attributes.Append(CultureInfo.InvariantCulture, $"\"event_name\":\"{name}\",\"event_time\":{time}");
        attributes.Append(CultureInfo.InvariantCulture, $",\"path\":\"/shop/{category}/product-{product}\"");
        attributes.Append(CultureInfo.InvariantCulture, $",\"title\":\"{char.ToUpperInvariant(category[0])}{category[1..]} product {product} | Example Shop\"");
        attributes.Append(CultureInfo.InvariantCulture, $",\"referrer\":\"{Referrers[(user + n * 5) % Referrers.Length]}\"");
        attributes.Append(CultureInfo.InvariantCulture, $",\"browser\":\"{Browsers[user % Browsers.Length]}\"");
        attributes.Append(CultureInfo.InvariantCulture, $",\"country\":\"{Countries[user % Countries.Length]}\"");
        if (n % 4 != 0)
        {
            attributes.Append(CultureInfo.InvariantCulture, $",\"category\":\"{category}\"");
        }
        if (name is "Product Viewed" or "Added To Cart" or "Order Completed" or "Checkout Started")
        {
            attributes.Append(CultureInfo.InvariantCulture, $",\"price\":{product % 300 + 4}.{(product * 7) % 100:D2}");
        }
        attributes.Append(CultureInfo.InvariantCulture, $",\"utm_source\":\"{Sources[(user * 3 + n) % Sources.Length]}\"");
        var updated = DateTimeOffset.FromUnixTimeMilliseconds(time).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        return Encoding.UTF8.GetBytes(
            $$$"""{"customer_id":"{{{email}}}","updated_at":"{{{updated}}}","first_name":"{{{FirstNames[user % FirstNames.Length]}}}","last_name":"Tester{{{user}}}","email":"{{{email}}}","phone":"","event_attributes":{{{{attributes}}}}}""");
    }

    /// <summary>MEMORY USAGE (exact: SAMPLES 0) summed per key kind: the key's prefix up to its hash tag, and its type.</summary>
    private static async Task BreakdownAsync(IServer server, IDatabase db, long events)
    {
        var kinds = new SortedDictionary<string, (long Keys, long Bytes, long Items)>(StringComparer.Ordinal);
        await foreach (var key in server.KeysAsync(pageSize: 1000))
        {
            var text = key.ToString();
            var brace = text.IndexOf('{', StringComparison.Ordinal);
            var prefix = brace <= 0 ? text : text[..brace];
            var type = await db.KeyTypeAsync(key);
            var bytes = (long)await db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0");
            long items = type switch
            {
                RedisType.Hash => await db.HashLengthAsync(key),
                RedisType.SortedSet => await db.SortedSetLengthAsync(key),
                RedisType.Stream => await db.StreamLengthAsync(key),
                RedisType.Set => await db.SetLengthAsync(key),
                _ => 1,
            };
            var name = $"{prefix} ({type.ToString().ToLowerInvariant()})";
            var k = kinds.GetValueOrDefault(name);
            kinds[name] = (k.Keys + 1, k.Bytes + bytes, k.Items + items);
        }
        Console.WriteLine($"{"key kind",-24} {"keys",8} {"items",9} {"bytes",13} {"B/key",8} {"B/event",8}");
        foreach (var (name, k) in kinds)
        {
            Console.WriteLine($"{name,-24} {k.Keys,8} {k.Items,9} {k.Bytes,13:N0} {k.Bytes / (double)k.Keys,8:0} {k.Bytes / (double)Math.Max(1, events),8:0.0}");
        }
        var total = kinds.Values.Sum(k => k.Bytes);
        Console.WriteLine($"{"all keys (MEMORY USAGE)",-24} {kinds.Values.Sum(k => k.Keys),8} {"",9} {total:N0} {"",8} {total / (double)Math.Max(1, events),8:0.0}");
    }

    private static async Task<long> UsedMemoryAsync(IServer server)
    {
        // Settle the allocator's view before reading: a short pause lets lazy frees and client buffers finish.
        await Task.Delay(500);
        var info = (await server.InfoRawAsync("memory")) ?? "";
        return long.Parse(info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal))["used_memory:".Length..].Trim(),
            CultureInfo.InvariantCulture);
    }

    private static async Task<double> RedisCpuAsync(IServer server)
    {
        var info = (await server.InfoRawAsync("cpu")) ?? "";
        return info.Split('\n').Select(l => l.Trim().Split(':')).Where(p => p.Length == 2 && p[0] is "used_cpu_user" or "used_cpu_sys")
            .Sum(p => double.Parse(p[1], CultureInfo.InvariantCulture));
    }
}
