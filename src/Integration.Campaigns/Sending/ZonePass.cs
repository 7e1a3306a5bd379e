using Integration.Campaigns.Model;
using Integration.Ingestion.V1;

namespace Integration.Campaigns.Sending;

/// <summary>
/// One pass over the audience of an occurrence sent in users' time zones: which users' turn has come (the rest
/// were handled before or wait), and when the earliest waiting user is due, which is when the next pass runs.
/// </summary>
internal sealed class ZonePass(Func<User, ZoneTurn> turn, CampaignMetrics metrics)
{
    public DateTimeOffset? NextDue { get; private set; }

    /// <summary>Users whose time has not come yet.</summary>
    public int Waiting { get; private set; }

    public ZoneTurn Of(User user)
    {
        var result = turn(user);
        switch (result.Kind)
        {
            case ZoneTurnKind.Later:
                Waiting++;
                NextDue = NextDue is { } next && next <= result.Due ? next : result.Due;
                break;
            case ZoneTurnKind.Send or ZoneTurnKind.SendPassed or ZoneTurnKind.SkipPassed:
                metrics.ZoneTurn(result.Kind);
                break;
        }
        return result;
    }
}
