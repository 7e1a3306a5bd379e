using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;

namespace Integration.HeapEmulator.Tests;

public sealed class TelemetryTests
{
    [Fact]
    public async Task JoinsTheCallersTraceAndRecordsItsTraceId()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Integration.HeapEmulator",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();

        // The caller's side of the trace, as the campaigns' delivery would have it; HttpClient sends its traceparent.
        using (var delivery = new Activity("campaign delivery").SetIdFormat(ActivityIdFormat.W3C).Start())
        {
            await http.TrackAsync("alice");
            delivery.Stop();

            Assert.Equal(delivery.TraceId.ToHexString(), Assert.Single((await http.GetEventsAsync()).Events).TraceId);
            var span = Assert.Single(spans, span => span.TraceId == delivery.TraceId);
            Assert.Equal("heap track", span.DisplayName);
            Assert.Equal("test-app", span.GetTagItem("heap.app_id"));
        }
    }

    [Fact]
    public async Task CountsRequestsByEndpointAndStatus()
    {
        await using var emulator = new HeapEmulatorFactory();
        using var http = emulator.CreateHttpClient();
        var meterFactory = emulator.Services.GetRequiredService<IMeterFactory>();
        var measurements = new ConcurrentBag<(string? Endpoint, string? Status, long Value)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "Integration.HeapEmulator" && instrument.Meter.Scope == meterFactory &&
                    instrument.Name == "integration.heap_emulator.requests")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? endpoint = null, status = null;
            foreach (var tag in tags)
            {
                endpoint = tag.Key == "endpoint" ? tag.Value as string : endpoint;
                status = tag.Key == "status" ? tag.Value as string : status;
            }
            measurements.Add((endpoint, status, value));
        });
        listener.Start();

        await http.TrackAsync("alice");
        await http.PostJsonAsync("/api/add_user_properties", "{}");
        await http.AddFaultAsync("""{"status":503,"count":1}""");
        await http.TrackAsync("alice");

        Assert.Contains(("track", "200", 1L), measurements);
        Assert.Contains(("add_user_properties", "400", 1L), measurements);
        Assert.Contains(("track", "503", 1L), measurements);
        Assert.Equal(3, measurements.Count);
    }
}
