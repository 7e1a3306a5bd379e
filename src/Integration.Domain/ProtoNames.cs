using System.Reflection;
using Google.Protobuf.Reflection;

namespace Integration.Domain;

/// <summary>Enum values as the contract spells them (<c>ATTRIBUTE_OPERATOR_BETWEEN</c>), for messages people act on.</summary>
public static class ProtoNames
{
    public static string Of<T>(T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())?.GetCustomAttribute<OriginalNameAttribute>()?.Name ?? value.ToString();
}
