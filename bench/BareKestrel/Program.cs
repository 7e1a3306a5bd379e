using System.Text.Json;

// The ceiling of this machine for the inbound benchmark: Kestrel on the same route that reads the body, parses it
// with System.Text.Json and answers a MoEngage-shaped 200. No auth, no rate counter, no storage, no telemetry.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();

var accepted = """{"status":"success","message":"Your request has been accepted and will be processed soon.","request_id":"00000000000000000000000000000000"}"""u8.ToArray();

app.MapGet("/health", () => "Healthy");
app.MapPost("/v1/partner/heap-analytics/{module}", async (HttpContext context) =>
{
    using var document = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
    if (document.RootElement.ValueKind is not JsonValueKind.Object)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }
    context.Response.StatusCode = StatusCodes.Status200OK;
    context.Response.ContentType = "application/json";
    await context.Response.Body.WriteAsync(accepted, context.RequestAborted);
});

app.Run();
