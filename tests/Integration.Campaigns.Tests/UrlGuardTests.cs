using System.Net;
using Integration.Campaigns.Safety;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Integration.Campaigns.Tests;

public sealed class UrlGuardTests
{
    private static UrlGuard Guard(params string[] allowed) => new(
        Options.Create(new CampaignsOptions { AllowedHosts = allowed }),
        new ConfigurationBuilder().Build());

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("10.1.2.3")]
    [InlineData("172.20.0.1")]
    [InlineData("192.168.1.1")]
    [InlineData("169.254.169.254")]
    [InlineData("100.64.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("224.0.0.1")]
    [InlineData("::1")]
    [InlineData("fe80::1")]
    [InlineData("fd00:ec2::254")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("::")]
    public void BlocksInternalAddresses(string address) => Assert.True(UrlGuard.IsBlocked(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700::1111")]
    public void AllowsPublicAddresses(string address) => Assert.False(UrlGuard.IsBlocked(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://127.0.0.1:8080/api/track")]
    [InlineData("http://localhost/api/track")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[::1]/x")]
    public async Task RefusesUrlsThatResolveToInternalAddresses(string url)
    {
        var problem = await Guard().CheckAsync(new Uri(url), CancellationToken.None);

        Assert.NotNull(problem);
        Assert.Contains("Campaigns:AllowedHosts", problem);
    }

    [Theory]
    [InlineData("http://0x7f.1:5103/api/track?api_key=s3cret", "URL 'http://0x7f.1:5103' (host '127.0.0.1')")]
    [InlineData("http://user:pw@2130706433/x", "URL 'http://2130706433' (host '127.0.0.1')")]
    [InlineData("http://127.0.0.1/x", "URL 'http://127.0.0.1'")]
    public async Task ARefusalNamesTheUrlAsWrittenWithoutItsCredentials(string url, string named)
    {
        var problem = await Guard().CheckAsync(new Uri(url), CancellationToken.None);

        Assert.NotNull(problem);
        Assert.StartsWith(named + " resolves to 127.0.0.1", problem);
        Assert.DoesNotContain("s3cret", problem);
        Assert.DoesNotContain("pw", problem);
    }

    [Fact]
    public async Task AllowsAnInternalHostOnTheAllowList()
    {
        var guard = Guard("127.0.0.1:5103", "localhost");

        Assert.Null(await guard.CheckAsync(new Uri("http://127.0.0.1:5103/api/track"), CancellationToken.None));
        Assert.Null(await guard.CheckAsync(new Uri("http://localhost:5103/api/track"), CancellationToken.None));
        Assert.NotNull(await guard.CheckAsync(new Uri("http://10.0.0.1/api/track"), CancellationToken.None));
    }

    [Fact]
    public async Task ReadsTheAllowListAsACommaSeparatedSetting()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Campaigns:AllowedHosts"] = "localhost, 127.0.0.1" })
            .Build();
        var guard = new UrlGuard(Options.Create(new CampaignsOptions()), configuration);

        Assert.Null(await guard.CheckAsync(new Uri("http://127.0.0.1/api/track"), CancellationToken.None));
    }

    [Fact]
    public async Task RefusesNonHttpSchemes() =>
        Assert.NotNull(await Guard().CheckAsync(new Uri("file:///etc/passwd"), CancellationToken.None));

    [Theory]
    [InlineData("http://127.0.0.1:6379/")]
    [InlineData("http://127.1:5103/api/track")]
    [InlineData("http://0x7f.1:5103/api/track")]
    [InlineData("http://2130706433:5103/api/track")]
    [InlineData("http://[::1]:5103/api/track")]
    public async Task InDevelopmentOnlyTheEmulatorsHostNameIsAllowedNotLoopbackAddresses(string url)
    {
        // The services' own settings files, as the AppHost runs campaigns in Development: the demo campaigns reach the
        // emulator as localhost, and a loopback address in any spelling (Redis, the other services) stays refused.
        var directory = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(directory, "Integration.sln")))
        {
            directory = Path.GetDirectoryName(directory) ?? throw new InvalidOperationException("Integration.sln not found above the test's directory.");
        }
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(directory, "src", "Integration.Campaigns", "appsettings.json"))
            .AddJsonFile(Path.Combine(directory, "src", "Integration.Campaigns", "appsettings.Development.json"))
            .Build();
        var guard = new UrlGuard(Options.Create(configuration.GetSection(CampaignsOptions.SectionName).Get<CampaignsOptions>() ?? new()), configuration);

        Assert.Null(await guard.CheckAsync(new Uri("http://localhost:5103/api/track"), CancellationToken.None));
        var problem = await guard.CheckAsync(new Uri(url), CancellationToken.None);
        Assert.NotNull(problem);
        Assert.Contains("Campaigns:AllowedHosts", problem);
    }
}
