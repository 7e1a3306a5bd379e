using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf.Collections;
using Integration.Common.V1;
using Integration.Ingestion.V1;

namespace Integration.Ingestion.Storage;

/// <summary>Attribute values travel as protobuf and rest in Redis as JSON scalars (type kept).</summary>
internal static class AttributeJson
{
    public static string ToJson(AttributeValue value) => value.KindCase switch
    {
        AttributeValue.KindOneofCase.StringValue => JsonSerializer.Serialize(value.StringValue, StorageJsonContext.Default.String),
        AttributeValue.KindOneofCase.NumberValue => FormatNumber(value.NumberValue),
        AttributeValue.KindOneofCase.BoolValue => value.BoolValue ? "true" : "false",
        _ => "null",
    };

    public static AttributeValue FromJson(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.String => new AttributeValue { StringValue = reader.GetString() },
            JsonTokenType.Number => new AttributeValue { NumberValue = reader.GetDouble() },
            JsonTokenType.True => new AttributeValue { BoolValue = true },
            JsonTokenType.False => new AttributeValue { BoolValue = false },
            _ => new AttributeValue(),
        };
    }

    /// <summary>Writes attributes as one JSON object (event attributes in the stream and the event record).</summary>
    public static void WriteObject(Utf8JsonWriter writer, MapField<string, AttributeValue> attributes)
    {
        writer.WriteStartObject();
        foreach (var (key, value) in attributes)
        {
            writer.WritePropertyName(key);
            switch (value.KindCase)
            {
                case AttributeValue.KindOneofCase.StringValue: writer.WriteStringValue(value.StringValue); break;
                case AttributeValue.KindOneofCase.NumberValue: writer.WriteNumberValue(value.NumberValue); break;
                case AttributeValue.KindOneofCase.BoolValue: writer.WriteBooleanValue(value.BoolValue); break;
                default: writer.WriteNullValue(); break;
            }
        }
        writer.WriteEndObject();
    }

    public static string ToJsonObject(MapField<string, AttributeValue> attributes)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteObject(writer, attributes);
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void ReadObject(JsonElement element, MapField<string, AttributeValue> into)
    {
        foreach (var property in element.EnumerateObject())
        {
            into[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => new AttributeValue { StringValue = property.Value.GetString() },
                JsonValueKind.Number => new AttributeValue { NumberValue = property.Value.GetDouble() },
                JsonValueKind.True => new AttributeValue { BoolValue = true },
                JsonValueKind.False => new AttributeValue { BoolValue = false },
                _ => new AttributeValue(),
            };
        }
    }

    private static string FormatNumber(double number) =>
        double.IsFinite(number) ? number.ToString("R", CultureInfo.InvariantCulture) : "null";
}
