using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using InboundBench.Infra;

namespace InboundBench.Faults;

/// <summary>One webhook sent by the driver and what became of it. Status 0: no answer (connection error, timeout).</summary>
internal sealed record Attempt(string WorkspaceId, string PayloadId, long SentAt, long DoneAt, int Status);

/// <summary>
/// Closed-loop load of unique Heap event webhooks (each body different, so each has its own event id), recording for
/// every request when it was sent, when it was answered and how. No retries: what is counted is what Heap would see.
/// </summary>
internal sealed class LoadDriver(Uri edge, IReadOnlyList<Workspace> workspaces, string tag)
{
    private long _sequence;

    public static long Now => Stopwatch.GetTimestamp();

    public async Task<List<Attempt>> RunAsync(int concurrency, CancellationToken stop)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = edge,
            Timeout = TimeSpan.FromSeconds(10),
        };
        var results = new List<Attempt>[concurrency];
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async worker =>
        {
            var mine = results[worker] = [];
            while (!stop.IsCancellationRequested)
            {
                mine.Add(await SendOneAsync(http));
            }
        }));
        return results.SelectMany(r => r).ToList();
    }

    private async Task<Attempt> SendOneAsync(HttpClient http)
    {
        var n = Interlocked.Increment(ref _sequence);
        var workspace = workspaces[(int)(n % workspaces.Count)];
        var body = Encoding.UTF8.GetBytes(
            $$$"""{"customer_id":"u{{{n % 500}}}@example.com","updated_at":"{{{DateTime.UtcNow.AddMinutes(-1):yyyy-MM-ddTHH:mm:ssZ}}}","first_name":"Fault","last_name":"Test","email":"u{{{n % 500}}}@example.com","phone":"","event_attributes":{"event_name":"Order Completed","order_id":"{{{tag}}}-{{{n}}}","amount":{{{n % 1000}}}.5}}""");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/partner/heap-analytics/events/?configName={InboundStack.ConfigName}")
        {
            Content = new ByteArrayContent(body) { Headers = { { "Content-Type", "application/json" } } },
        };
        request.Headers.TryAddWithoutValidation("Authorization", workspace.BasicAuthorization);
        var sent = Now;
        int status;
        try
        {
            using var response = await http.SendAsync(request);
            await response.Content.LoadIntoBufferAsync();
            status = (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            status = 0;
        }
        return new Attempt(workspace.Id, PayloadId(body), sent, Now, status);
    }

    /// <summary>The edge's content hash of an events webhook through config "heap": the stored event's id.</summary>
    public static string PayloadId(byte[] body)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("events\n"u8);
        hash.AppendData(Encoding.UTF8.GetBytes(InboundStack.ConfigName + "\n"));
        hash.AppendData(body);
        return Convert.ToHexStringLower(hash.GetHashAndReset().AsSpan(0, 16));
    }
}
