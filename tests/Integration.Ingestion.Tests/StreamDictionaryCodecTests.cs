using Integration.Domain;

namespace Integration.Ingestion.Tests;

/// <summary>
/// The stream entry codec's zstd contexts are shared by every dictionary of the process and pick one per call
/// (docs/keyspace.md, "Stream entry compression"): entries of different workspaces, compressed and decompressed at the
/// same time on many threads, each come back as written, and a damaged entry does not spoil the context for the next.
/// </summary>
public sealed class StreamDictionaryCodecTests
{
    [Fact]
    public void EntriesOfTwoDictionariesRoundTripWhenCompressedAndReadConcurrently()
    {
        var shop = Trained("shop", "/shop/item-");
        var news = Trained("news", "/articles/story-");
        Assert.NotEqual(shop.Id, news.Id);

        var failures = 0;
        Parallel.For(0, 4_000, new ParallelOptions { MaxDegreeOfParallelism = 8 }, n =>
        {
            var (dictionary, entry) = n % 2 == 0 ? (shop, Entry("shop", "/shop/item-", n)) : (news, Entry("news", "/articles/story-", n));
            var value = EventStream.Encode(entry, dictionary);
            if (EventStream.DictionaryOf(value) != dictionary.Id || EventStream.Decode(value) != entry)
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }

    /// <summary>
    /// An entry compressed by the codec before the contexts were shared (one context a dictionary, the dictionary loaded
    /// into it), with a raw-content dictionary both versions accept: its wire bytes, not re-encoded by this code.
    /// </summary>
    private const string EntryCompressedByTheFirstCodec =
        "697b5eff89767d3476725e20a7cd020044040a100123456789abcdef1a1137220f28fb979df4ad3330c8ebe7fcad333a0468656170423e3432" +
        "4a194bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b70160020600c5b6c45446b7243a1c186647d936a27401";

    [Fact]
    public void AnEntryCompressedByTheFirstCodecStillDecodes()
    {
        var dictionary = EventStreamDictionary.FromBytes(System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(
            """{"path":"/shop/item-","title":"Example Shop","country":"DE"}Order Completeduser@example.com""", 4))));
        EventStream.AddDictionary(dictionary);
        var value = Convert.FromHexString(EntryCompressedByTheFirstCodec);

        Assert.Equal(0x76347d7689ff5e7bUL, dictionary.Id);
        Assert.Equal(dictionary.Id, EventStream.DictionaryOf(value));
        Assert.Equal(
            new EventStreamEntry("0123456789abcdef0123456789abcdef", "user7@example.com", "Order Completed", 1764670000123, 1764688000456, "heap",
                """{"path":"/shop/item-42","title":"Example Shop","country":"DE"}""", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, 2),
            EventStream.Decode(value));
    }

    [Fact]
    public void ADamagedEntryIsNotAnEventAndTheNextOneStillDecodes()
    {
        var dictionary = Trained("damaged", "/shop/item-");
        var good = Entry("damaged", "/shop/item-", 1);
        var value = EventStream.Encode(good, dictionary);
        Assert.Equal(dictionary.Id, EventStream.DictionaryOf(value));

        // The compressed frame is the value's tail: break its last bytes (a truncated or overwritten frame).
        var damaged = value.ToArray();
        for (var i = damaged.Length - 6; i < damaged.Length; i++)
        {
            damaged[i] ^= 0x5a;
        }

        Assert.Null(EventStream.Decode(damaged));
        Assert.Equal(good, EventStream.Decode(value));
    }

    private static EventStreamDictionary Trained(string workspace, string path)
    {
        var samples = Enumerable.Range(0, 300).Select(n => EventStream.Encode(Entry(workspace, path, n))).ToList();
        var dictionary = EventStreamDictionary.Train(samples);
        Assert.NotNull(dictionary);
        EventStream.AddDictionary(dictionary);
        return dictionary;
    }

    private static EventStreamEntry Entry(string workspace, string path, int n) => new(
        $"{n:x32}", $"user{n % 97}@{workspace}.example.com", n % 3 == 0 ? "Order Completed" : "Page Viewed",
        1_764_670_000_000 + n, 1_764_688_000_000 + n, "heap",
        $$"""{"path":"{{path}}{{n}}","title":"{{workspace}} page {{n}} | Example","country":"{{(n % 2 == 0 ? "DE" : "US")}}","price":{{n % 300}}.99}""",
        $"00-{n:x32}-{n:x16}-01");
}
