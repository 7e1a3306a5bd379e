using System.Runtime.CompilerServices;
using StackExchange.Redis;

namespace Integration.Ingestion.Storage;

/// <summary>
/// Walks one partition's users index (<see cref="UserKeyspace.Users(string, int)"/>) with ZSCAN in batches, for the
/// background passes that visit every user a batch per script call (the retention sweeper, the user-hash merge): all
/// of a batch's users are in the partition's slot.
/// </summary>
internal static class PartitionUsers
{
    public static async IAsyncEnumerable<IReadOnlyList<string>> BatchesAsync(IDatabase db, string workspaceId, int partition, int size,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var batch = new List<string>(size);
        await foreach (var user in db.SortedSetScanAsync(UserKeyspace.Users(workspaceId, partition), pageSize: size).WithCancellation(cancellationToken))
        {
            batch.Add(user.Element.ToString());
            if (batch.Count == size)
            {
                yield return batch;
                batch = new List<string>(size);
            }
        }
        if (batch.Count > 0)
        {
            yield return batch;
        }
    }
}
