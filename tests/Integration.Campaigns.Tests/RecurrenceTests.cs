using Integration.Campaigns.Model;
using Integration.Campaigns.V1;

namespace Integration.Campaigns.Tests;

public sealed class RecurrenceTests
{
    private static readonly DateTimeOffset Activated = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero); // a Monday

    private static PeriodicDelivery Daily(string time = "09:00", string zone = "UTC", int every = 1) =>
        new() { Frequency = Frequency.Daily, Every = every, TimeOfDay = time, TimeZone = zone };

    [Fact]
    public void DailyRunsAtTheLocalTimeOfItsZone()
    {
        var next = Recurrence.Next(Daily("09:00", "America/New_York"), Activated, Activated, 0);

        Assert.Equal(new DateTimeOffset(2026, 3, 2, 14, 0, 0, TimeSpan.Zero), next);
    }

    [Fact]
    public void FollowsDaylightSavingTime()
    {
        // Europe/Berlin moves to summer time on 29 March 2026: 09:00 local is 08:00 UTC before, 07:00 UTC after.
        var p = Daily("09:00", "Europe/Berlin");
        var before = Recurrence.Next(p, new DateTimeOffset(2026, 3, 28, 0, 0, 0, TimeSpan.Zero), Activated, 0);
        var after = Recurrence.Next(p, before!.Value, Activated, 1);

        Assert.Equal(new DateTimeOffset(2026, 3, 28, 8, 0, 0, TimeSpan.Zero), before);
        Assert.Equal(new DateTimeOffset(2026, 3, 29, 7, 0, 0, TimeSpan.Zero), after);
    }

    [Fact]
    public void EveryThirdDayCountsFromTheStart()
    {
        var p = Daily(every: 3);
        var first = Recurrence.Next(p, Activated, Activated, 0)!.Value;
        var second = Recurrence.Next(p, first, Activated, 1)!.Value;

        Assert.Equal(new DateTimeOffset(2026, 3, 5, 9, 0, 0, TimeSpan.Zero), first);
        Assert.Equal(TimeSpan.FromDays(3), second - first);
    }

    [Fact]
    public void WeeklyOnGivenDaysEveryOtherWeek()
    {
        var p = new PeriodicDelivery { Frequency = Frequency.Weekly, Every = 2, TimeOfDay = "08:30", DaysOfWeek = { 1, 3 } };
        var runs = new List<DateTimeOffset>();
        var after = Activated;
        for (var i = 0; i < 4; i++)
        {
            after = Recurrence.Next(p, after, Activated, i)!.Value;
            runs.Add(after);
        }

        Assert.Equal([4, 16, 18, 30], runs.Select(r => r.Day).ToArray());
        Assert.All(runs, r => Assert.Equal(new TimeSpan(8, 30, 0), r.TimeOfDay));
    }

    [Fact]
    public void MonthlyOnThe31stSkipsShortMonths()
    {
        var p = new PeriodicDelivery { Frequency = Frequency.Monthly, TimeOfDay = "12:00", DaysOfMonth = { 31 } };
        var first = Recurrence.Next(p, Activated, Activated, 0)!.Value;
        var second = Recurrence.Next(p, first, Activated, 1)!.Value;

        Assert.Equal(new DateTime(2026, 3, 31), first.Date);
        Assert.Equal(new DateTime(2026, 5, 31), second.Date);
    }

    [Fact]
    public void EndsOnADateOrAfterNOccurrences()
    {
        var byDate = Daily();
        byDate.EndAtMs = new DateTimeOffset(2026, 3, 4, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var byCount = Daily();
        byCount.MaxOccurrences = 2;

        Assert.NotNull(Recurrence.Next(byDate, Activated, Activated, 0));
        Assert.Null(Recurrence.Next(byDate, new DateTimeOffset(2026, 3, 3, 9, 0, 0, TimeSpan.Zero), Activated, 1));
        Assert.NotNull(Recurrence.Next(byCount, Activated, Activated, 1));
        Assert.Null(Recurrence.Next(byCount, Activated, Activated, 2));
    }

    [Fact]
    public void StartsNoEarlierThanItsStartTime()
    {
        var p = Daily();
        p.StartMs = new DateTimeOffset(2026, 6, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();

        Assert.Equal(new DateTimeOffset(2026, 6, 1, 9, 0, 0, TimeSpan.Zero), Recurrence.Next(p, Activated, Activated, 0));
    }
}
