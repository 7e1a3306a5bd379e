using Integration.HeapTraffic;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.Services.AddOptions<TrafficOptions>().BindConfiguration(TrafficOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddHostedService<TrafficWorker>();
builder.Services.AddSingleton<DemoCampaigns>();
builder.Services.AddServiceGrpcClient<Integration.Campaigns.V1.Campaigns.CampaignsClient>(
    builder.Configuration["HeapTraffic:CampaignsAddress"] ?? "http://_grpc.campaigns");
builder.Services.AddHttpClient<TrafficPlayer>(http => http.BaseAddress = new Uri(builder.Configuration["HeapTraffic:EdgeUrl"] ?? "http://edge"));

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
