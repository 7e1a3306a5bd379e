using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Integration.Ingestion.V1;
using Microsoft.Extensions.Options;

namespace Integration.Edge.Webhooks;

/// <summary>
/// Coalesces concurrent webhooks into batched <c>Ingest</c> calls. A few sender loops each take whatever
/// is queued (up to <see cref="EdgeOptions.IngestionBatchSize"/>) and send it as one gRPC call, so at low
/// load a webhook goes out alone at once and under load one call carries many — fewer HTTP/2 streams,
/// fewer spans, one pipelined Redis round trip in ingestion. Each webhook still gets its own result, and
/// a call that fails fails every webhook in it (they are answered 503; Heap retries, duplicates are
/// recognised).
/// </summary>
internal sealed class IngestionBatcher(
    Ingestion.V1.Ingestion.IngestionClient ingestion,
    IOptions<EdgeOptions> options,
    TimeProvider time) : BackgroundService
{
    private static readonly ActivitySource Source = new("Integration.Edge");

    private readonly Channel<Pending> _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.Value.IngestionQueueCapacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>Queues one webhook's record; completes with its result once ingestion has answered.</summary>
    public async Task<IngestItemResult> SubmitAsync(IngestItem item, CancellationToken cancellationToken)
    {
        var pending = new Pending(item, new TaskCompletionSource<IngestItemResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _queue.Writer.WriteAsync(pending, cancellationToken);
        return await pending.Result.Task.WaitAsync(cancellationToken);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, options.Value.IngestionConcurrency).Select(_ => SendLoopAsync(stoppingToken)));

    private async Task SendLoopAsync(CancellationToken stoppingToken)
    {
        var max = options.Value.IngestionBatchSize;
        var batch = new List<Pending>(max);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                while (batch.Count < max && reader.TryRead(out var pending))
                {
                    batch.Add(pending);
                }
                if (batch.Count > 0)
                {
                    await SendAsync(batch);
                    batch.Clear();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            var stopping = new RpcException(new Status(StatusCode.Unavailable, "The edge is shutting down."));
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(stopping);
            }
            while (reader.TryRead(out var left))
            {
                left.Result.TrySetException(stopping);
            }
        }
    }

    private async Task SendAsync(List<Pending> batch)
    {
        var request = new IngestBatchRequest();
        foreach (var pending in batch)
        {
            request.Items.Add(pending.Item);
        }

        // The call joins the first webhook's trace and links the others; ingestion puts each record's
        // write under its own webhook's trace (IngestItem.traceparent).
        ActivityContext.TryParse(batch[0].Item.Traceparent, null, isRemote: true, out var first);
        List<ActivityLink>? links = null;
        for (var i = 1; i < batch.Count; i++)
        {
            if (ActivityContext.TryParse(batch[i].Item.Traceparent, null, isRemote: true, out var other))
            {
                (links ??= []).Add(new ActivityLink(other));
            }
        }
        using var activity = Source.StartActivity("ingest batch", ActivityKind.Internal, first, links: links);
        activity?.SetTag("ingestion.records", batch.Count);

        try
        {
            var response = await ingestion.IngestAsync(request,
                deadline: time.GetUtcNow().UtcDateTime.AddSeconds(options.Value.IngestionTimeoutSeconds));
            if (response.Results.Count != batch.Count)
            {
                throw new RpcException(new Status(StatusCode.Internal,
                    $"Ingestion answered {response.Results.Count} results for {batch.Count} records."));
            }
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Result.TrySetResult(response.Results[i]);
            }
        }
        catch (RpcException ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.Status.Detail);
            foreach (var pending in batch)
            {
                pending.Result.TrySetException(ex);
            }
        }
    }

    private sealed record Pending(IngestItem Item, TaskCompletionSource<IngestItemResult> Result);
}
