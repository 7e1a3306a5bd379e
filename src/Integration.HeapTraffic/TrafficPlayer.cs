using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;

namespace Integration.HeapTraffic;

/// <summary>
/// Plays what Heap would send for a stream of people: sign-ups, sessions, feature use, checkouts (some
/// abandoned — the drop-off case), trial ends, and a retroactive session from last month. Webhooks go
/// to the edge exactly as Heap sends them, so campaigns fire and traces fill the dashboard.
/// </summary>
internal sealed partial class TrafficPlayer(HttpClient http, IOptions<TrafficOptions> options, ILogger<TrafficPlayer> logger)
{
    private static readonly string[] FirstNames = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Frances", "Dennis"];
    private static readonly string[] Plans = ["free", "trial", "pro"];

    public async Task PlayJourneyAsync(int index, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var random = new Random(index);
        var first = FirstNames[random.Next(FirstNames.Length)];
        var email = $"{first.ToLowerInvariant()}.{index}@example.com";
        var step = TimeSpan.FromSeconds(o.StepSeconds);

        await SendAsync("user", UserPayload(first, email, random, extra: new JsonObject { ["plan"] = Plans[random.Next(Plans.Length)] }), cancellationToken);
        await SendEventAsync(first, email, "Signed Up", new JsonObject { ["source"] = random.Next(2) == 0 ? "ads" : "organic" }, cancellationToken);

        // Heap's retroactive data: a session that happened weeks ago, synced now.
        await SendEventAsync(first, email, "Session Started", new JsonObject
        {
            ["event_time"] = DateTimeOffset.UtcNow.AddDays(-random.Next(7, 40)).ToUnixTimeMilliseconds(),
        }, cancellationToken);

        var sessions = random.Next(1, 6);
        for (var i = 0; i < sessions; i++)
        {
            await Task.Delay(step, cancellationToken);
            await SendEventAsync(first, email, "Session Started", [], cancellationToken);
        }

        await Task.Delay(step, cancellationToken);
        await SendEventAsync(first, email, "Feature Used", new JsonObject { ["feature"] = "reports" }, cancellationToken);

        var orderId = $"o-{index}";
        await Task.Delay(step, cancellationToken);
        await SendEventAsync(first, email, "Checkout Started", new JsonObject { ["order_id"] = orderId, ["amount"] = Math.Round(random.NextDouble() * 200, 2) }, cancellationToken);

        // Two in five abandon the checkout: the drop-off campaign's audience.
        if (random.Next(5) >= 2)
        {
            await Task.Delay(step, cancellationToken);
            await SendEventAsync(first, email, "Order Completed", new JsonObject { ["order_id"] = orderId }, cancellationToken);
        }

        if (random.Next(3) == 0)
        {
            await Task.Delay(step, cancellationToken);
            await SendEventAsync(first, email, "Trial Ended", new JsonObject { ["plan"] = "trial" }, cancellationToken);
        }
    }

    private Task SendEventAsync(string first, string email, string name, JsonObject attributes, CancellationToken cancellationToken)
    {
        attributes["event_name"] = name;
        var payload = UserPayload(first, email, random: null);
        payload["event_attributes"] = attributes;
        return SendAsync("events", payload, cancellationToken);
    }

    private static JsonObject UserPayload(string first, string email, Random? random, JsonObject? extra = null)
    {
        var payload = new JsonObject
        {
            ["customer_id"] = email,
            ["updated_at"] = DateTimeOffset.UtcNow.ToString("O"),
            ["first_name"] = first,
            ["last_name"] = "Example",
            ["email"] = email,
            ["phone"] = random is null ? "" : $"+1415555{random.Next(1000, 9999)}",
        };
        if (extra is not null)
        {
            payload["user_attributes"] = extra;
        }
        return payload;
    }

    private async Task SendAsync(string module, JsonObject payload, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/partner/heap-analytics/{module}/?configName={Uri.EscapeDataString(o.ConfigName)}")
        {
            Content = new StringContent(payload.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.WorkspaceId}:{o.DataApiKey}")));
        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                LogRefused(logger, module, (int)response.StatusCode);
            }
        }
        catch (HttpRequestException ex)
        {
            LogUnreachable(logger, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The edge answered {Status} to a {Module} webhook.")]
    private static partial void LogRefused(ILogger logger, string module, int status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The edge is unreachable: {Reason}")]
    private static partial void LogUnreachable(ILogger logger, string reason);
}

/// <summary>Starts a new user journey every 60/UsersPerMinute seconds, each in the background.</summary>
internal sealed partial class TrafficWorker(TrafficPlayer player, DemoCampaigns demoCampaigns, IOptions<TrafficOptions> options, ILogger<TrafficWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await EnsureDemoCampaignsAsync(stoppingToken);
        var interval = TimeSpan.FromMinutes(1) / options.Value.UsersPerMinute;
        var journeys = new List<Task>();
        using var timer = new PeriodicTimer(interval);
        var index = (int)(DateTimeOffset.UtcNow.ToUnixTimeSeconds() % 1_000_000) * 100;
        var started = 0;
        LogStarting(logger, options.Value.UsersPerMinute, options.Value.WorkspaceId);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (options.Value.MaxUsers > 0 && started >= options.Value.MaxUsers)
            {
                break;
            }
            journeys.RemoveAll(t => t.IsCompleted);
            journeys.Add(PlaySafelyAsync(index + started++, stoppingToken));
        }
        await Task.WhenAll(journeys);
    }

    private async Task EnsureDemoCampaignsAsync(CancellationToken stoppingToken)
    {
        for (var attempt = 1; attempt <= 30 && !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                await demoCampaigns.EnsureAsync(stoppingToken);
                return;
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.Unavailable or Grpc.Core.StatusCode.DeadlineExceeded)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
            catch (Grpc.Core.RpcException ex)
            {
                LogDemoCampaignsFailed(logger, ex);
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The demo campaigns could not be created; traffic plays without them.")]
    private static partial void LogDemoCampaignsFailed(ILogger logger, Exception exception);

    private async Task PlaySafelyAsync(int index, CancellationToken stoppingToken)
    {
        try
        {
            await player.PlayJourneyAsync(index, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogJourneyFailed(logger, ex, index);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Playing {UsersPerMinute} simulated Heap users a minute into workspace {WorkspaceId}.")]
    private static partial void LogStarting(ILogger logger, int usersPerMinute, string workspaceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Journey {Index} failed.")]
    private static partial void LogJourneyFailed(ILogger logger, Exception exception, int index);
}
