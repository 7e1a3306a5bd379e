using System.ComponentModel.DataAnnotations;

namespace Integration.Ingestion;

internal sealed class IngestionOptions
{
    public const string SectionName = "Ingestion";

    /// <summary>The edge's public base URL, used to print an integration config's webhook URLs.</summary>
    [Required]
    public string EdgePublicBaseUrl { get; set; } = "http://localhost:5100";

    /// <summary>Largest batch one IngestUsers/IngestEvents call may carry.</summary>
    [Range(1, 10_000)]
    public int MaxBatchSize { get; set; } = 1000;
}
