using System.Diagnostics;
using Grpc.Core;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Webhooks;

/// <summary>
/// Coalesces concurrent webhooks into batched <c>Ingest</c> calls (a <see cref="Coalescer{TItem, TResult}"/>, as the
/// rate counter's script calls): at most <see cref="EdgeOptions.IngestionConcurrency"/> calls are in flight, each
/// carrying whatever was queued (up to <see cref="EdgeOptions.IngestionBatchSize"/>), so at low load a webhook goes
/// out alone at once and under load one call carries many — fewer HTTP/2 streams, fewer spans, one pipelined Redis
/// round trip in ingestion. Each webhook still gets its own result, and a call that fails fails every webhook in it
/// (they are answered 503; Heap retries, duplicates are recognised). A webhook whose sender hangs up while it is
/// still queued is never sent.
/// </summary>
internal sealed class IngestionBatcher : IDisposable
{
    private static readonly ActivitySource Source = new("Integration.Edge");

    private readonly Ingestion.V1.Ingestion.IngestionClient _ingestion;
    private readonly EdgeOptions _options;
    private readonly TimeProvider _time;
    private readonly Coalescer<IngestItem, IngestItemResult> _coalescer;

    public IngestionBatcher(Ingestion.V1.Ingestion.IngestionClient ingestion, IOptions<EdgeOptions> options, TimeProvider time)
    {
        _ingestion = ingestion;
        _options = options.Value;
        _time = time;
        _coalescer = new Coalescer<IngestItem, IngestItemResult>(SendAsync, new CoalescerOptions
        {
            MaxBatchSize = _options.IngestionBatchSize,
            Concurrency = _options.IngestionConcurrency,
            QueueCapacity = _options.IngestionQueueCapacity,
            // Each webhook's continuation (writing its answer) runs on the thread pool, not one after another on
            // the thread that received ingestion's answer.
            ResumeCallersAsynchronously = true,
            Stopped = static () => new RpcException(new Status(StatusCode.Unavailable, "The edge is shutting down.")),
        });
    }

    /// <summary>Queues one webhook's record; completes with its result once ingestion has answered.</summary>
    public Task<IngestItemResult> SubmitAsync(IngestItem item, CancellationToken cancellationToken) =>
        _coalescer.SubmitAsync(item, Timeout.InfiniteTimeSpan, cancellationToken);

    /// <summary>Webhooks still queued, and later ones, fail as Unavailable (503); calls in flight are answered.</summary>
    public void Dispose() => _coalescer.Dispose();

    private async Task<IReadOnlyList<IngestItemResult>> SendAsync(IngestItem[] batch)
    {
        var request = new IngestBatchRequest();
        request.Items.AddRange(batch);

        // The call joins the first webhook's trace and links the others; ingestion puts each record's
        // write under its own webhook's trace (IngestItem.traceparent).
        ActivityContext.TryParse(batch[0].Traceparent, null, isRemote: true, out var first);
        List<ActivityLink>? links = null;
        for (var i = 1; i < batch.Length; i++)
        {
            if (ActivityContext.TryParse(batch[i].Traceparent, null, isRemote: true, out var other))
            {
                (links ??= []).Add(new ActivityLink(other));
            }
        }
        using var activity = Source.StartActivity("ingest batch", ActivityKind.Internal, first, links: links);
        activity?.SetTag("ingestion.records", batch.Length);

        try
        {
            var response = await _ingestion.IngestAsync(request,
                deadline: _time.GetUtcNow().UtcDateTime.AddSeconds(_options.IngestionTimeoutSeconds));
            if (response.Results.Count != batch.Length)
            {
                throw new RpcException(new Status(StatusCode.Internal,
                    $"Ingestion answered {response.Results.Count} results for {batch.Length} records."));
            }
            return response.Results;
        }
        catch (RpcException ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Status.Detail);
            throw;
        }
    }
}
