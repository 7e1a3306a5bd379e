namespace Integration.Edge.Webhooks;

/// <summary>The two webhooks Heap sends (the path segment after /v1/partner/heap-analytics/).</summary>
internal enum HeapModule
{
    User,
    Events,
}
