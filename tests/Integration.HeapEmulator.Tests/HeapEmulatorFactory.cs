using Integration.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Integration.HeapEmulator.Tests;

/// <summary>The emulator on real Kestrel, with a fake clock and the apps <c>test-app</c> and <c>other-app</c>.</summary>
public sealed class HeapEmulatorFactory(
    IDictionary<string, string?>? settings = null,
    bool withApps = true,
    string environment = "Testing")
    : KestrelServiceFactory<Program>(Combine(settings, withApps))
{
    public const string App = "test-app";
    public const string OtherApp = "other-app";

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseEnvironment(environment);
        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Time));
    }

    private static Dictionary<string, string?> Combine(IDictionary<string, string?>? settings, bool withApps)
    {
        var combined = withApps
            ? new Dictionary<string, string?> { ["HeapEmulator:Apps:0"] = App, ["HeapEmulator:Apps:1"] = OtherApp }
            : [];
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            combined[key] = value;
        }
        return combined;
    }
}
