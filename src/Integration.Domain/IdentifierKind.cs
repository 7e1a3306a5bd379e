namespace Integration.Domain;

/// <summary>Which value of Heap's payload links profiles (same numbers as integration.admin.v1.IdentifierKind).</summary>
public enum IdentifierKind
{
    Unspecified = 0,
    Email = 1,
    Phone = 2,
    ExternalId = 3,
}
