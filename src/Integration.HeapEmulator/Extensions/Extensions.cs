using Integration.HeapEmulator.Api;
using Integration.HeapEmulator.Emulator;
using Integration.HeapEmulator.Inspection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Integration.HeapEmulator.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<HeapEmulatorOptions>()
            .BindConfiguration(HeapEmulatorOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // Tests put a FakeTimeProvider here to walk through Heap's limit windows.
        builder.Services.TryAddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<HeapApps>();
        builder.Services.AddSingleton<EmulatorStore>();
        builder.Services.AddSingleton<ApiStats>();
        builder.Services.AddSingleton<HeapRateLimiter>();
        builder.Services.AddSingleton<FaultInjector>();
        builder.Services.AddSingleton<HeapEmulatorTelemetry>();
        builder.Services.AddSingleton<HeapApi>();

        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, InspectionJsonContext.Default));
    }
}
