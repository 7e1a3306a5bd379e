using System.Globalization;
using System.Text.Json;
using Integration.Common.V1;
using Integration.Domain;
using Integration.Edge.Webhooks;
using Integration.Ingestion.V1;

namespace Integration.Edge.SegmentSync;

/// <summary>A segment-sync body that passed validation, and the identifiers it listed that cannot be used.</summary>
internal sealed record ParsedSegmentSync(SyncSegmentRequest Request, IReadOnlyList<FieldError> Skipped);

/// <summary>
/// Validates Heap's segment-sync bodies (heap/heap-api-reference, webhook_spec.yaml: <c>WebhookSyncRequest</c>, and
/// bin/data/drain.json) and maps them to a <see cref="SyncSegmentRequest"/>. Structural problems are collected so one
/// 400 names them all. An identifier that cannot be normalised for the config's identifier kind is skipped and named
/// in the answer instead: Heap retries any non-2xx, so refusing a page of thousands for one bad id would stall the whole
/// sync forever. A page none of whose identifiers can be used is refused (the config most likely expects another kind).
/// </summary>
internal static class SegmentSyncParser
{
    public const string SyncAction = "segment.users.sync";
    public const string DrainAction = "segment.users.drain";

    /// <summary>Page numbers stay below ingestion's page factor.</summary>
    private const long MaxPage = 999_999;

    public static ParsedSegmentSync? Parse(JsonElement root, EdgeConfig config, EdgeOptions options, List<FieldError> errors,
        out int listedUsers)
    {
        listedUsers = 0;
        if (root.ValueKind is not JsonValueKind.Object)
        {
            errors.Add(new("body", "must be a JSON object"));
            return null;
        }

        var request = new SyncSegmentRequest();
        if (!root.TryGetProperty("action_type", out var actionType))
        {
            errors.Add(new("action_type", $"is required ('{SyncAction}' or '{DrainAction}')"));
        }
        else
        {
            request.Action = actionType.ValueKind is JsonValueKind.String ? actionType.GetString() switch
            {
                SyncAction => SegmentSyncAction.Sync,
                DrainAction => SegmentSyncAction.Drain,
                _ => SegmentSyncAction.Unspecified,
            } : SegmentSyncAction.Unspecified;
            if (request.Action is SegmentSyncAction.Unspecified)
            {
                errors.Add(new("action_type", $"must be '{SyncAction}' or '{DrainAction}'"));
            }
        }
        // Heap's customer token and the customer's field choices identify nothing here (the config name does): accepted,
        // checked for shape, not used.
        if (root.TryGetProperty("id_token", out var idToken) && idToken.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            errors.Add(new("id_token", "must be a string"));
        }
        if (root.TryGetProperty("customer_config", out var customerConfig) && customerConfig.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            errors.Add(new("customer_config", "must be an object"));
        }

        if (!root.TryGetProperty("data", out var data) || data.ValueKind is not JsonValueKind.Object)
        {
            errors.Add(new("data", "is required and must be an object"));
            return null;
        }
        ReadSegment(data, request, errors);

        var skipped = new List<FieldError>();
        if (request.Action is SegmentSyncAction.Drain)
        {
            foreach (var list in new[] { "add", "remove" })
            {
                if (data.TryGetProperty(list, out _))
                {
                    errors.Add(new($"data.{list}", "a drain lists no users (every member leaves the segment)"));
                }
            }
        }
        else if (request.Action is SegmentSyncAction.Sync)
        {
            ReadSyncInfo(data, request, errors);
            var hasAdd = data.TryGetProperty("add", out var add);
            var hasRemove = data.TryGetProperty("remove", out var remove);
            if (!hasAdd && !hasRemove)
            {
                errors.Add(new("data.add", "or data.remove is required for a sync"));
            }
            var kind = (IdentifierKind)config.IdentifierKind;
            var added = new HashSet<string>(StringComparer.Ordinal);
            var removed = new HashSet<string>(StringComparer.Ordinal);
            if (hasAdd)
            {
                ReadUsers(add, "data.add", kind, options, errors, skipped, ref listedUsers, user =>
                {
                    if (added.Add(user.CustomerId))
                    {
                        request.Add.Add(user);
                    }
                });
            }
            if (hasRemove)
            {
                ReadUsers(remove, "data.remove", kind, options, errors, skipped, ref listedUsers, user =>
                {
                    if (removed.Add(user.CustomerId))
                    {
                        request.Remove.Add(user.CustomerId);
                    }
                });
            }
            if (errors.Count == 0 && skipped.Count > 0 && request.Add.Count + request.Remove.Count == 0)
            {
                // Nothing usable at all: most likely the config expects another kind of identifier.
                errors.AddRange(skipped.Take(20));
            }
        }
        return errors.Count > 0 ? null : new ParsedSegmentSync(request, skipped);
    }

    private static void ReadSegment(JsonElement data, SyncSegmentRequest request, List<FieldError> errors)
    {
        if (!data.TryGetProperty("segment", out var segment) || segment.ValueKind is not JsonValueKind.Object)
        {
            errors.Add(new("data.segment", "is required and must be an object with id and name"));
            return;
        }
        if (!segment.TryGetProperty("id", out var id) || !TryReadPositive(id, long.MaxValue, out var segmentId))
        {
            errors.Add(new("data.segment.id", "must be a positive integer (Heap's segment id)"));
        }
        else
        {
            request.SegmentId = segmentId;
        }
        if (segment.TryGetProperty("name", out var name) && name.ValueKind is not JsonValueKind.Null)
        {
            if (name.ValueKind is JsonValueKind.String && name.GetString()!.Length <= 1024)
            {
                request.SegmentName = name.GetString()!;
            }
            else
            {
                errors.Add(new("data.segment.name", "must be a string of at most 1024 characters"));
            }
        }
        else if (request.Action is SegmentSyncAction.Sync)
        {
            errors.Add(new("data.segment.name", "is required for a sync"));
        }
    }

    private static void ReadSyncInfo(JsonElement data, SyncSegmentRequest request, List<FieldError> errors)
    {
        if (!data.TryGetProperty("sync_info", out var info) || info.ValueKind is not JsonValueKind.Object)
        {
            errors.Add(new("data.sync_info", "is required for a sync (page_number, total_pages, sync_task_id)"));
            return;
        }
        if (!info.TryGetProperty("sync_task_id", out var task) || task.ValueKind is not JsonValueKind.String ||
            task.GetString() is not { Length: > 0 and <= 256 } taskId || taskId.Any(char.IsControl))
        {
            errors.Add(new("data.sync_info.sync_task_id", "must be a non-empty string of at most 256 characters"));
        }
        else
        {
            request.SyncTaskId = taskId;
        }
        if (!info.TryGetProperty("page_number", out var page) || !TryReadPositive(page, MaxPage, out var pageNumber))
        {
            errors.Add(new("data.sync_info.page_number", $"must be an integer from 1 to {MaxPage}"));
            pageNumber = 0;
        }
        request.PageNumber = (int)pageNumber;
        if (!info.TryGetProperty("total_pages", out var total) || !TryReadPositive(total, MaxPage, out var totalPages))
        {
            errors.Add(new("data.sync_info.total_pages", $"must be an integer from 1 to {MaxPage}"));
        }
        else if (pageNumber > 0 && totalPages < pageNumber)
        {
            errors.Add(new("data.sync_info.total_pages", $"is {totalPages}, less than page_number {pageNumber}"));
        }
        else
        {
            request.TotalPages = (int)totalPages;
        }
    }

    private static void ReadUsers(JsonElement list, string path, IdentifierKind kind, EdgeOptions options, List<FieldError> errors,
        List<FieldError> skipped, ref int listedUsers, Action<SegmentSyncUser> accept)
    {
        if (list.ValueKind is JsonValueKind.Null)
        {
            return;
        }
        if (list.ValueKind is not JsonValueKind.Array)
        {
            errors.Add(new(path, "must be an array of users ({\"id\": …})"));
            return;
        }
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            var itemPath = $"{path}[{index++}]";
            listedUsers++;
            if (listedUsers > options.MaxSegmentPageUsers)
            {
                // Counted on, not read: the caller answers 413 with the count.
                continue;
            }
            if (item.ValueKind is not JsonValueKind.Object || !item.TryGetProperty("id", out var id) ||
                id.ValueKind is not (JsonValueKind.String or JsonValueKind.Number))
            {
                errors.Add(new($"{itemPath}.id", "is required: each user is an object with the identifier as id"));
                continue;
            }
            var raw = id.ValueKind is JsonValueKind.String ? id.GetString()! : id.GetRawText();
            if (!Identifiers.TryNormalize(raw, kind, out var customerId, out var problem))
            {
                skipped.Add(new($"{itemPath}.id", problem));
                continue;
            }

            var user = new SegmentSyncUser { CustomerId = customerId };
            var attributes = 0;
            foreach (var property in item.EnumerateObject())
            {
                if (property.Name == "id")
                {
                    continue;
                }
                if (HeapPayloadParser.TryReadScalar(property.Value, $"{itemPath}.{property.Name}", errors, out var scalar) && scalar is not null &&
                    ++attributes <= options.MaxAttributes)
                {
                    user.Attributes[property.Name] = scalar;
                }
            }
            if (attributes > options.MaxAttributes)
            {
                errors.Add(new(itemPath, $"carries {attributes} properties; at most {options.MaxAttributes} are accepted"));
            }
            // The identifier is the profile's email or phone too, as a user webhook would have set it.
            var identifierAttribute = kind switch { IdentifierKind.Email => "email", IdentifierKind.Phone => "phone", _ => null };
            if (identifierAttribute is not null && !user.Attributes.ContainsKey(identifierAttribute))
            {
                user.Attributes[identifierAttribute] = new AttributeValue { StringValue = customerId };
            }
            accept(user);
        }
    }

    /// <summary>A positive integer up to <paramref name="max"/>, as a JSON number or a string of digits.</summary>
    private static bool TryReadPositive(JsonElement value, long max, out long number)
    {
        number = 0;
        var ok = value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt64(out number),
            JsonValueKind.String => long.TryParse(value.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out number),
            _ => false,
        };
        return ok && number >= 1 && number <= max;
    }
}
