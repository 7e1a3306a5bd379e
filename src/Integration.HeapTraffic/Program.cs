using Integration.HeapTraffic;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddOptions<TrafficOptions>().BindConfiguration(TrafficOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddHostedService<TrafficWorker>();
builder.Services.AddHttpClient<TrafficPlayer>(http => http.BaseAddress = new Uri(builder.Configuration["HeapTraffic:EdgeUrl"] ?? "http://edge"));

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
