namespace Integration.Templates;

/// <summary>Global functions every template can call.</summary>
internal static class Globals
{
    public static readonly Dictionary<string, GlobalFunction> Functions = new GlobalFunction[]
    {
        new("range", Range),
        new("dict", (c, a) =>
        {
            var d = new TemplateDict();
            if (a.Positional.Length > 0) throw new TemplateRuntimeError("dict() takes keyword arguments only here");
            foreach (var (k, v) in a.Named) d[k] = v;
            return d;
        }),
        new("namespace", (c, a) =>
        {
            var ns = new Namespace();
            foreach (var p in a.Positional)
            {
                if (p is not TemplateDict d) throw new TemplateRuntimeError("namespace() takes a dict or keyword arguments");
                foreach (var (k, v) in d) ns.Values[Py.Str(k)] = v;
            }
            foreach (var (k, v) in a.Named) ns.Values[k] = v;
            return ns;
        }),
        new("cycler", (c, a) => a.Positional.Length > 0 ? new Cycler(a.Positional) : throw new TemplateRuntimeError("cycler() needs at least one item")),
        new("joiner", (c, a) => new Joiner(Py.Str(a.Expect("joiner", "sep").Get(0, "sep", ", ")))),
        new("now", (c, a) => new TemplateDateTime(c.Now, Dates.Zone(a.Expect("now", "tz").Get(0, "tz", "UTC")))),
        new("timedelta", (c, a) =>
        {
            a.Expect("timedelta", "days", "seconds", "microseconds", "milliseconds", "minutes", "hours", "weeks");
            double Part(int i, string name) => Py.ToDouble(a.Get(i, name, 0L));
            var span = TimeSpan.FromDays(Part(0, "days")) + TimeSpan.FromSeconds(Part(1, "seconds")) + TimeSpan.FromMicroseconds(Part(2, "microseconds"))
                + TimeSpan.FromMilliseconds(Part(3, "milliseconds")) + TimeSpan.FromMinutes(Part(4, "minutes")) + TimeSpan.FromHours(Part(5, "hours"))
                + TimeSpan.FromDays(7 * Part(6, "weeks"));
            return new TemplateTimeDelta(span);
        }),
    }.ToDictionary(f => f.Name, StringComparer.Ordinal);

    private static object? Range(RenderContext c, Arguments a)
    {
        if (a.Named.Length > 0) throw new TemplateRuntimeError("range() takes no keyword arguments");
        var p = a.Positional;
        if (p.Length is 0 or > 3) throw new TemplateRuntimeError($"range expected 1 to 3 arguments, got {p.Length}");
        long start = 0, step = 1, stop;
        if (p.Length == 1)
        {
            stop = Py.ToLong(p[0]);
        }
        else
        {
            start = Py.ToLong(p[0]);
            stop = Py.ToLong(p[1]);
            if (p.Length == 3) step = Py.ToLong(p[2]);
        }
        if (step == 0) throw new TemplateRuntimeError("range() arg 3 must not be zero");
        var count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
        if (count > c.Limits.MaxLoopIterations)
        {
            throw new TemplateRuntimeError($"range() with more than {c.Limits.MaxLoopIterations} items");
        }
        c.Items(count);
        var items = new List<object?>((int)count);
        for (long i = 0, v = start; i < count; i++, v += step)
        {
            items.Add(v);
        }
        return items;
    }
}
