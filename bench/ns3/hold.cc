/*
 * Hold model (Jones 1986) in ns-3: the counterpart of bench/scheduler.ts and of ns-3's own
 * utils/bench-scheduler.cc.
 *
 * PENDING events are scheduled up front at Exp(mean 1 us); every event, when run, schedules
 * exactly one successor at now + Exp(mean 1 us) (ns3::ExponentialRandomVariable, rounded to the
 * default 1 ns Time resolution as Time(double) does), so the event list holds PENDING events the
 * whole time and each dispatch is one remove-next + one insert. The run stops after EVENTS hold
 * events (the last one calls Simulator::Stop(), which adds one zero-delay stop event).
 *
 * Timing: std::chrono::steady_clock (wall) and std::clock (process CPU time, less sensitive to a
 * loaded machine) around Simulator::Run() only; building the initial population
 * and Simulator::Destroy() (freeing the PENDING leftovers) are outside the timed window.
 * For each scheduler: one untimed warm-up run, then REPS timed runs; the median is reported.
 *
 * Usage: hold [--events=N] [--pending=N] [--reps=N] [--list-events=N]
 * Output: one JSON line per scheduler on stdout.
 */
#include "ns3/core-module.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

using namespace ns3;

namespace
{

struct Hold
{
    Ptr<ExponentialRandomVariable> rng;
    uint64_t executed = 0;
    uint64_t limit = 0;

    Time Delay()
    {
        return Time(rng->GetValue()); // Time(double): llround in the resolution unit (ns)
    }

    void Run()
    {
        ++executed;
        Simulator::Schedule(Delay(), &Hold::Run, this);
        if (executed == limit)
        {
            Simulator::Stop();
        }
    }
};

struct Outcome
{
    double seconds;
    double cpuSeconds;
    uint64_t executed;
    int64_t nowNs;
};

Outcome
OneRun(const std::string& scheduler, uint64_t pending, uint64_t events, uint32_t run)
{
    ObjectFactory factory;
    factory.SetTypeId(scheduler);
    Simulator::SetScheduler(factory);
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(run);

    Hold hold;
    hold.rng = CreateObject<ExponentialRandomVariable>();
    hold.rng->SetAttribute("Mean", DoubleValue(1000.0)); // ns
    hold.rng->SetAttribute("Bound", DoubleValue(0.0));   // unbounded
    hold.limit = events;
    for (uint64_t i = 0; i < pending; i++)
    {
        Simulator::Schedule(hold.Delay(), &Hold::Run, &hold);
    }

    auto start = std::chrono::steady_clock::now();
    std::clock_t cpuStart = std::clock();
    Simulator::Run();
    std::clock_t cpuStop = std::clock();
    auto stop = std::chrono::steady_clock::now();

    Outcome outcome{std::chrono::duration<double>(stop - start).count(),
                    double(cpuStop - cpuStart) / CLOCKS_PER_SEC,
                    hold.executed,
                    Simulator::Now().GetNanoSeconds()};
    Simulator::Destroy();
    if (outcome.executed != events)
    {
        std::fprintf(stderr, "%s: executed %llu events, expected %llu\n", scheduler.c_str(),
                     (unsigned long long)outcome.executed, (unsigned long long)events);
        std::exit(1);
    }
    return outcome;
}

double
Median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace

int
main(int argc, char* argv[])
{
    uint64_t events = 3000000;
    uint64_t pending = 10000;
    uint32_t reps = 5;
    uint64_t listEvents = 50000;  // ListScheduler is O(pending) per insert: capped
    std::string only;

    CommandLine cmd(__FILE__);
    cmd.AddValue("events", "hold events per run", events);
    cmd.AddValue("pending", "pending events (population)", pending);
    cmd.AddValue("reps", "timed runs per scheduler (median reported)", reps);
    cmd.AddValue("list-events", "hold events per ListScheduler run (0: skip it)", listEvents);
    cmd.AddValue("scheduler", "run only this scheduler (e.g. ns3::HeapScheduler)", only);
    cmd.Parse(argc, argv);

    const char* schedulers[] = {"ns3::MapScheduler",
                                "ns3::HeapScheduler",
                                "ns3::CalendarScheduler",
                                "ns3::PriorityQueueScheduler",
                                "ns3::ListScheduler"};
    for (const char* scheduler : schedulers)
    {
        if (!only.empty() && only != scheduler)
        {
            continue;
        }
        bool isList = std::string(scheduler) == "ns3::ListScheduler";
        uint64_t n = isList ? listEvents : events;
        if (n == 0)
        {
            continue;
        }
        OneRun(scheduler, pending, n, 1); // warm-up (page faults, allocator, caches)
        std::vector<double> rates;
        std::vector<double> secs;
        std::vector<double> cpuRates;
        int64_t nowNs = 0;
        for (uint32_t r = 0; r < reps; r++)
        {
            Outcome o = OneRun(scheduler, pending, n, r + 2);
            secs.push_back(o.seconds);
            rates.push_back(n / o.seconds);
            cpuRates.push_back(n / o.cpuSeconds);
            nowNs = o.nowNs;
        }
        std::printf("{\"benchmark\":\"ns3-hold\",\"ns3\":\"3.37\",\"scheduler\":\"%s\","
                    "\"pending\":%llu,\"events\":%llu,\"meanDelayNs\":1000,\"reps\":%u,"
                    "\"eventsPerSecondMedian\":%.0f,\"eventsPerSecondMin\":%.0f,"
                    "\"eventsPerSecondMax\":%.0f,\"eventsPerCpuSecondMedian\":%.0f,\"runSecondsMedian\":%.4f,"
                    "\"simulatedNsLastRun\":%lld%s}\n",
                    scheduler,
                    (unsigned long long)pending,
                    (unsigned long long)n,
                    reps,
                    Median(rates),
                    *std::min_element(rates.begin(), rates.end()),
                    *std::max_element(rates.begin(), rates.end()),
                    Median(cpuRates),
                    Median(secs),
                    (long long)nowNs,
                    isList ? ",\"capped\":true" : "");
        std::fflush(stdout);
    }
    return 0;
}
