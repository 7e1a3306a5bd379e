using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Integration.HeapEmulator.Emulator;

/// <summary>The Heap app (environment) ids the emulator accepts: configured ones, the demo app in Development, and added ones.</summary>
internal sealed class HeapApps
{
    public const string DemoApp = "heap-demo-app";

    private readonly ConcurrentDictionary<string, byte> _apps = new(StringComparer.Ordinal);

    public HeapApps(IOptions<HeapEmulatorOptions> options, IHostEnvironment environment)
    {
        foreach (var app in options.Value.Apps.Where(app => !string.IsNullOrWhiteSpace(app)))
        {
            _apps.TryAdd(app.Trim(), 0);
        }
        if (environment.IsDevelopment())
        {
            _apps.TryAdd(DemoApp, 0);
        }
    }

    public bool Contains(string appId) => _apps.ContainsKey(appId);

    /// <summary>Adds an app; false if it existed already.</summary>
    public bool Add(string appId) => _apps.TryAdd(appId, 0);

    public IReadOnlyList<string> All => [.. _apps.Keys.Order(StringComparer.Ordinal)];
}
