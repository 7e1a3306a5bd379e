using System.Globalization;
using Integration.Common.V1;

namespace Integration.Domain.Segments;

/// <summary>
/// The one definition of attribute conditions (<see cref="AttributeFilter"/>): on profile attributes, on event
/// properties and on a trigger event's attributes. Strings compare case-insensitively, numbers numerically.
/// </summary>
public static class AttributeRules
{
    public const int MaxListValues = 100;
    public const int MaxDays = 3650;
    public const int MaxOperandLength = 1024;
    public const int MaxNameLength = 256;
    private const long DayMs = 86_400_000;

    /// <summary>The first problem with a condition, naming the field under <paramref name="path"/>, or null.</summary>
    public static string? Problem(AttributeFilter? filter, string path)
    {
        if (filter is null)
        {
            return $"{path}: required.";
        }
        if (string.IsNullOrWhiteSpace(filter.Attribute))
        {
            return $"{path}.attribute: required.";
        }
        if (filter.Attribute.Length > MaxNameLength)
        {
            return $"{path}.attribute: at most {MaxNameLength} characters.";
        }
        var op = filter.Operator;
        if (op == AttributeOperator.Unspecified || !Enum.IsDefined(op))
        {
            return $"{path}.operator: required (one of the ATTRIBUTE_OPERATOR_ values).";
        }
        switch (op)
        {
            case AttributeOperator.Exists or AttributeOperator.NotExists or AttributeOperator.IsEmpty or AttributeOperator.IsNotEmpty:
                return null;
            case AttributeOperator.GreaterThan or AttributeOperator.LessThan or AttributeOperator.GreaterOrEqual or AttributeOperator.LessOrEqual:
                return IsNumber(filter.Value) ? null : $"{path}.value: a number for {Name(op)}.";
            case AttributeOperator.Between:
                if (!IsNumber(filter.Value))
                {
                    return $"{path}.value: a number (the lower bound) for {Name(op)}.";
                }
                if (!IsNumber(filter.ValueTo))
                {
                    return $"{path}.value_to: a number (the upper bound) for {Name(op)}.";
                }
                return filter.Value.NumberValue <= filter.ValueTo.NumberValue ? null : $"{path}.value_to: must not be below value.";
            case AttributeOperator.InList or AttributeOperator.NotInList:
                if (filter.Values.Count is 0 or > MaxListValues)
                {
                    return $"{path}.values: 1 to {MaxListValues} values for {Name(op)}.";
                }
                for (var i = 0; i < filter.Values.Count; i++)
                {
                    if (OperandProblem(filter.Values[i]) is { } problem)
                    {
                        return $"{path}.values[{i}]: {problem}";
                    }
                }
                return null;
            case AttributeOperator.WithinLastDays or AttributeOperator.WithinNextDays:
                return IsNumber(filter.Value) && filter.Value.NumberValue is >= 1 and <= MaxDays && filter.Value.NumberValue % 1 == 0
                    ? null
                    : $"{path}.value: a whole number of days, 1 to {MaxDays}, for {Name(op)}.";
            default:
                return OperandProblem(filter.Value) is { } valueProblem ? $"{path}.value: {valueProblem.TrimEnd('.')} for {Name(op)}." : null;
        }
    }

    private static string? OperandProblem(AttributeValue? value) => value switch
    {
        null or { KindCase: AttributeValue.KindOneofCase.None } => "required.",
        { KindCase: AttributeValue.KindOneofCase.StringValue } when value.StringValue.Length > MaxOperandLength =>
            $"at most {MaxOperandLength} characters.",
        { KindCase: AttributeValue.KindOneofCase.NumberValue } when !double.IsFinite(value.NumberValue) => "a finite number.",
        _ => null,
    };

    private static bool IsNumber(AttributeValue? value) =>
        value is { KindCase: AttributeValue.KindOneofCase.NumberValue } && double.IsFinite(value.NumberValue);

    private static string Name(AttributeOperator op) => ProtoNames.Of(op);

    /// <summary>Whether <paramref name="actual"/> (null: missing) satisfies a valid condition at <paramref name="asOfMs"/>.</summary>
    public static bool Matches(AttributeFilter filter, AttributeValue? actual, long asOfMs)
    {
        var present = actual is not null && actual.KindCase != AttributeValue.KindOneofCase.None;
        var operand = filter.Value;
        return filter.Operator switch
        {
            AttributeOperator.Exists => present,
            AttributeOperator.NotExists => !present,
            AttributeOperator.IsEmpty => !present || (actual!.KindCase == AttributeValue.KindOneofCase.StringValue && string.IsNullOrWhiteSpace(actual.StringValue)),
            AttributeOperator.IsNotEmpty => present && !(actual!.KindCase == AttributeValue.KindOneofCase.StringValue && string.IsNullOrWhiteSpace(actual.StringValue)),
            AttributeOperator.Equals => present && AreEqual(actual!, operand),
            AttributeOperator.NotEquals => !present || !AreEqual(actual!, operand),
            AttributeOperator.InList => present && filter.Values.Any(v => AreEqual(actual!, v)),
            AttributeOperator.NotInList => !present || !filter.Values.Any(v => AreEqual(actual!, v)),
            AttributeOperator.Contains => present && operand is not null && Text(actual!).Contains(Text(operand), StringComparison.OrdinalIgnoreCase),
            AttributeOperator.NotContains => !present || operand is null || !Text(actual!).Contains(Text(operand), StringComparison.OrdinalIgnoreCase),
            AttributeOperator.StartsWith => present && operand is not null && Text(actual!).StartsWith(Text(operand), StringComparison.OrdinalIgnoreCase),
            AttributeOperator.EndsWith => present && operand is not null && Text(actual!).EndsWith(Text(operand), StringComparison.OrdinalIgnoreCase),
            AttributeOperator.GreaterThan => Number(actual) is { } a && Number(operand) is { } b && a > b,
            AttributeOperator.LessThan => Number(actual) is { } c && Number(operand) is { } d && c < d,
            AttributeOperator.GreaterOrEqual => Number(actual) is { } e && Number(operand) is { } f && e >= f,
            AttributeOperator.LessOrEqual => Number(actual) is { } g && Number(operand) is { } h && g <= h,
            AttributeOperator.Between => Number(actual) is { } n && Number(operand) is { } low && Number(filter.ValueTo) is { } high && n >= low && n <= high,
            AttributeOperator.WithinLastDays => Time(actual) is { } past && Number(operand) is { } back && past <= asOfMs && past >= asOfMs - (long)back * DayMs,
            AttributeOperator.WithinNextDays => Time(actual) is { } future && Number(operand) is { } ahead && future >= asOfMs && future <= asOfMs + (long)ahead * DayMs,
            _ => false,
        };
    }

    private static bool AreEqual(AttributeValue actual, AttributeValue? operand) =>
        operand is not null && (operand.KindCase == AttributeValue.KindOneofCase.NumberValue && Number(actual) is { } n
            ? n == operand.NumberValue
            : string.Equals(Text(actual), Text(operand), StringComparison.OrdinalIgnoreCase));

    /// <summary>The value as text: numbers round-trip invariantly, booleans as <c>true</c> / <c>false</c>.</summary>
    public static string Text(AttributeValue value) => value.KindCase switch
    {
        AttributeValue.KindOneofCase.StringValue => value.StringValue,
        AttributeValue.KindOneofCase.NumberValue => value.NumberValue.ToString("R", CultureInfo.InvariantCulture),
        AttributeValue.KindOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        _ => "",
    };

    /// <summary>A number, or a string that reads as one (Heap sends numbers as strings too).</summary>
    public static double? Number(AttributeValue? value) => value?.KindCase switch
    {
        AttributeValue.KindOneofCase.NumberValue => value.NumberValue,
        AttributeValue.KindOneofCase.StringValue when double.TryParse(value.StringValue, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        _ => null,
    };

    /// <summary>A date attribute: an ISO 8601 string, or epoch seconds / milliseconds (number or digits).</summary>
    public static long? Time(AttributeValue? value) => value?.KindCase switch
    {
        AttributeValue.KindOneofCase.NumberValue when Timestamps.TryFromEpoch(value.NumberValue, out var ms) => ms,
        AttributeValue.KindOneofCase.StringValue when Timestamps.TryParse(value.StringValue, out var parsed) => parsed,
        _ => null,
    };
}
