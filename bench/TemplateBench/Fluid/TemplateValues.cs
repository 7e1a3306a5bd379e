using System.Globalization;
using System.Text.Encodings.Web;
using Fluid;
using Fluid.Values;
using Integration.Common.V1;
using Integration.Ingestion.V1;

namespace TemplateBench.Fluid;

/// <summary>Collects the values a render printed although they were null, so the user can be skipped.</summary>
internal sealed class MissingValues
{
    private readonly List<string> _names = [];

    public IReadOnlyList<string> Names => _names;

    public void Add(string name) => _names.Add(name);
}

/// <summary>
/// A value that is not there. It is nil to filters and conditions (so <c>default</c> and <c>if</c> work),
/// and printing it records the name: a null without a default skips the user.
/// </summary>
internal sealed class MissingValue(string name, MissingValues sink) : FluidValue
{
    public override FluidValues Type => FluidValues.Nil;

    public override bool Equals(FluidValue other) => other.IsNil();

    public override bool ToBooleanValue() => false;

    public override decimal ToNumberValue() => 0;

    public override string ToStringValue() => "";

    public override object ToObjectValue() => null!;

    public override bool IsNil() => true;

#pragma warning disable CS0672, CS0618 // Fluid still calls the synchronous writer on its synchronous path.
    public override void WriteTo(TextWriter writer, TextEncoder encoder, CultureInfo cultureInfo) => sink.Add(name);
#pragma warning restore CS0672, CS0618

    public override ValueTask WriteToAsync(TextWriter writer, TextEncoder encoder, CultureInfo cultureInfo)
    {
        sink.Add(name);
        return default;
    }

    public override bool Equals(object? obj) => obj is FluidValue other && Equals(other);

    public override int GetHashCode() => 0;
}

/// <summary>A read-only bag of named values (<c>UserAttribute['First Name']</c> or <c>UserAttribute.email</c>).</summary>
internal sealed class BagValue(string name, IReadOnlyDictionary<string, FluidValue> values, MissingValues sink, Func<string, FluidValue>? fallback = null)
    : FluidValue
{
    public override FluidValues Type => FluidValues.Object;

    public override bool Equals(FluidValue other) => ReferenceEquals(this, other);

    public override bool ToBooleanValue() => true;

    public override decimal ToNumberValue() => 0;

    public override string ToStringValue() => "";

    public override object ToObjectValue() => values;

    public override ValueTask<FluidValue> GetValueAsync(string key, TemplateContext context) =>
        new(values.TryGetValue(key, out var value) ? value : fallback?.Invoke(key) ?? new MissingValue($"{name}['{key}']", sink));

    public override ValueTask<FluidValue> GetIndexAsync(FluidValue index, TemplateContext context) =>
        GetValueAsync(index.ToStringValue(), context);

#pragma warning disable CS0672, CS0618
    public override void WriteTo(TextWriter writer, TextEncoder encoder, CultureInfo cultureInfo)
    {
    }
#pragma warning restore CS0672, CS0618

    public override ValueTask WriteToAsync(TextWriter writer, TextEncoder encoder, CultureInfo cultureInfo) => default;

    public override bool Equals(object? obj) => ReferenceEquals(this, obj);

    public override int GetHashCode() => values.GetHashCode();

    public static FluidValue From(AttributeValue value) => value.KindCase switch
    {
        AttributeValue.KindOneofCase.StringValue => StringValue.Create(value.StringValue),
        AttributeValue.KindOneofCase.NumberValue when double.IsFinite(value.NumberValue) && Math.Abs(value.NumberValue) < 7.9e27 =>
            NumberValue.Create((decimal)value.NumberValue),
        AttributeValue.KindOneofCase.NumberValue => StringValue.Create(value.NumberValue.ToString("R", CultureInfo.InvariantCulture)),
        AttributeValue.KindOneofCase.BoolValue => BooleanValue.Create(value.BoolValue),
        _ => NilValue.Instance,
    };
}
