using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Integration.Admin.V1;
using Integration.Campaigns.V1;
using Integration.Ingestion.V1;

namespace Integration.Cli;

/// <summary>The gRPC clients of one command-line run, the call options every call shares, and how answers are printed.</summary>
internal sealed class ServiceClients : IDisposable
{
    // Zeros, false and empty lists are printed too: "deleted": false or "replayed": 0 must not read as an empty {}.
    private static readonly JsonFormatter Formatter = new(JsonFormatter.Settings.Default.WithIndentation().WithFormatDefaultValues(true));
    private readonly GrpcChannel _ingestionChannel;
    private readonly GrpcChannel _campaignsChannel;
    private readonly CliSettings _settings;
    private readonly TextWriter _output;

    public ServiceClients(CliSettings settings, TextWriter output)
    {
        _settings = settings;
        _output = output;
        _ingestionChannel = GrpcChannel.ForAddress(settings.IngestionAddress);
        _campaignsChannel = GrpcChannel.ForAddress(settings.CampaignsAddress);
        Admin = new Admin.V1.Admin.AdminClient(_ingestionChannel);
        Ingestion = new Ingestion.V1.Ingestion.IngestionClient(_ingestionChannel);
        Campaigns = new Campaigns.V1.Campaigns.CampaignsClient(_campaignsChannel);
        Deliveries = new Deliveries.DeliveriesClient(_campaignsChannel);
    }

    public Admin.V1.Admin.AdminClient Admin { get; }

    public Ingestion.V1.Ingestion.IngestionClient Ingestion { get; }

    public Campaigns.V1.Campaigns.CampaignsClient Campaigns { get; }

    public Deliveries.DeliveriesClient Deliveries { get; }

    /// <summary>The bearer token, a deadline and the run's cancellation, for one call.</summary>
    public CallOptions Call(CancellationToken cancellationToken) => new(
        new Metadata { { "authorization", $"Bearer {_settings.Token}" } },
        DateTime.UtcNow.Add(_settings.Timeout),
        cancellationToken);

    /// <summary>Prints an answer as indented protobuf JSON, default values included.</summary>
    public int Print(IMessage answer)
    {
        _output.WriteLine(Formatter.Format(answer));
        return ExitCodes.Success;
    }

    public void Dispose()
    {
        _ingestionChannel.Dispose();
        _campaignsChannel.Dispose();
    }
}
