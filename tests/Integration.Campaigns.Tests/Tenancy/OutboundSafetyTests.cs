using System.Collections.Concurrent;
using System.Net;
using Integration.Campaigns.Delivery;
using Integration.Campaigns.Safety;
using Integration.Campaigns.Tests.Delivery;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Tests.Tenancy;

/// <summary>
/// The SSRF guard at connect time: every send of the delivery engine dials through it, so what counts is the address
/// actually connected to, not what a host resolved to when the campaign was saved.
/// </summary>
public sealed class OutboundSafetyTests(EmulatorFixture fixture) : IClassFixture<EmulatorFixture>
{
    private readonly string _workspace = "ssrf-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>A resolver that answers a public address until told to rebind, then loopback (where the emulator listens).</summary>
    private sealed class RebindingResolver : IHostResolver
    {
        public volatile bool Rebound;
        public readonly ConcurrentQueue<string> Asked = new();

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
        {
            Asked.Enqueue(host);
            return Task.FromResult(Rebound ? [IPAddress.Loopback] : new[] { IPAddress.Parse("93.184.216.34") });
        }
    }

    private static UrlGuard Guard() => new(Options.Create(new CampaignsOptions()), new ConfigurationBuilder().Build());

    [Theory]
    [InlineData("http://0x7f.1/api/track")]
    [InlineData("http://2130706433/api/track")]
    [InlineData("http://0177.0.0.1/api/track")]
    [InlineData("http://127.1/api/track")]
    [InlineData("http://[::ffff:127.0.0.1]/api/track")]
    [InlineData("http://[::ffff:7f00:1]/api/track")]
    [InlineData("http://[0:0:0:0:0:ffff:a9fe:a9fe]/latest/meta-data/")]
    [InlineData("http://0xa9.0xfe.0xa9.0xfe/latest/meta-data/")]
    [InlineData("http://[::]/x")]
    [InlineData("http://0/x")]
    public async Task RefusesOddSpellingsOfInternalAddressesWhenSaved(string url)
    {
        Assert.NotNull(await Guard().CheckAsync(new Uri(url), CancellationToken.None));
    }

    [Fact]
    public async Task ADeliveryToAHostThatRebindsToLoopbackAfterTheSaveCheckIsRefusedAtConnectTime()
    {
        var resolver = new RebindingResolver();
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString,
            new Dictionary<string, string?> { ["Campaigns:AllowedHosts"] = "" },
            services => services.AddSingleton<IHostResolver>(resolver));
        var url = new Uri($"http://rebind.example:{fixture.EmulatorAddress.Port}/api/track");
        var saveCheck = await host.Services.GetRequiredService<IUrlGuard>().CheckAsync(url, CancellationToken.None);
        resolver.Rebound = true;
        var identity = "rebind-" + Guid.NewGuid().ToString("N")[..8];
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-rebind", identity,
            options: new DeliveryOptions { MaxAttempts = 1 }) with { Url = url.ToString() };

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var dead = await host.RecordWhenAsync(request, DeliveryRecord.Dead, TimeSpan.FromSeconds(20));

        Assert.Null(saveCheck);
        Assert.Contains("Refused to connect to 'rebind.example'", dead!.LastError);
        Assert.Contains("rebind.example", resolver.Asked);
        Assert.Empty((await fixture.Http.EventsAsync(identity)).Events);
    }

    [Theory]
    [InlineData("2130706433")]
    [InlineData("0x7f.1")]
    [InlineData("127.1")]
    [InlineData("[::ffff:127.0.0.1]")]
    public async Task ADeliveryToAnOddSpellingOfLoopbackIsRefusedAtConnectTime(string spelling)
    {
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString,
            new Dictionary<string, string?> { ["Campaigns:AllowedHosts"] = "" });
        var identity = "odd-" + Guid.NewGuid().ToString("N")[..8];
        var request = Deliveries.HeapTrack(fixture.EmulatorAddress, _workspace, "c-odd", identity,
            options: new DeliveryOptions { MaxAttempts = 1 }) with { Url = $"http://{spelling}:{fixture.EmulatorAddress.Port}/api/track" };

        await host.Queue.EnqueueAsync(request, CancellationToken.None);
        var dead = await host.RecordWhenAsync(request, DeliveryRecord.Dead, TimeSpan.FromSeconds(20));

        Assert.Contains("Refused to connect", dead!.LastError);
        Assert.Empty((await fixture.Http.EventsAsync(identity)).Events);
    }

    [Fact]
    public async Task ARedirectIsAnAnswerNotADetour()
    {
        // A destination that answers every request with a redirect to the metadata address.
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await using var stream = client.GetStream();
            var buffer = new byte[8192];
            await stream.ReadAtLeastAsync(buffer, 1, throwOnEndOfStream: false);
            await stream.WriteAsync("HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
        });
        await using var host = await DeliveryTestHost.StartAsync(fixture.Redis.ConnectionString);
        var request = Deliveries.HeapTrack(new Uri($"http://127.0.0.1:{port}"), _workspace, "c-redirect", "redirect-user");

        var exchange = await host.Services.GetRequiredService<DeliverySender>()
            .ExchangeAsync(request, DeliveryTarget.For(request), TimeSpan.FromSeconds(5), 1024, readSuccessBody: true, CancellationToken.None);
        await serve.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal(302, exchange.Status);
        Assert.Contains(exchange.Headers, h => h.Key == "Location");
    }
}
