using Integration.HeapEmulator.Endpoints;
using Integration.HeapEmulator.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapHeapApiEndpoints();
app.MapEmulatorEndpoints();

app.Run();

public partial class Program;
