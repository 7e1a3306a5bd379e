using System.Collections.Concurrent;
using Integration.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Integration.AppHost.Tests.Otlp;

/// <summary>One span as exported by a service.</summary>
public sealed record ReceivedSpan(string Service, string TraceId, string SpanId, string ParentSpanId, string Name);

/// <summary>
/// A minimal OTLP/HTTP trace receiver: every service of the system under test exports its spans here,
/// so a test can check which services took part in one trace.
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;

    public OtlpTraceReceiver()
    {
        Port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{Port}");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/v1/traces", async (HttpRequest request) =>
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            var export = ExportTraceServiceRequest.Parser.ParseFrom(buffer.ToArray());
            foreach (var resource in export.ResourceSpans)
            {
                var service = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
                foreach (var span in resource.ScopeSpans.SelectMany(s => s.Spans))
                {
                    Spans.Add(new ReceivedSpan(service, Convert.ToHexStringLower(span.TraceId.Span), Convert.ToHexStringLower(span.SpanId.Span),
                        Convert.ToHexStringLower(span.ParentSpanId.Span), span.Name));
                }
            }
            return Results.Ok();
        });
        // Metrics and logs are exported too; accepted and ignored.
        _app.MapPost("/v1/metrics", () => Results.Ok());
        _app.MapPost("/v1/logs", () => Results.Ok());
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    public ConcurrentBag<ReceivedSpan> Spans { get; } = [];

    public Task StartAsync() => _app.StartAsync();

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
