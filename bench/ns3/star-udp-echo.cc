/*
 * Star UDP echo in ns-3: the counterpart of scenarios/bench/star-udp-echo.yaml / bench/star-udp-echo.ts.
 *
 * 100 client nodes and 10 server nodes, each on its own point-to-point link to one router node
 * (InternetStack, Ipv4GlobalRoutingHelper, one /30 per link). A UdpEchoServer (port 5000) on each
 * server; a UdpEchoClient on client i sends a 100-byte datagram to server i % 10 every 1 ms from
 * t = 0 for 2 simulated seconds (2,000 per client, 200,000 in all; ns-3 has no ClusterIP/NAT, so
 * the load balancing is a fixed round robin). The simulation stops at 5 s (the scenario's duration)
 * or when no events are left.
 *
 * Link mapping (docs/scenario.md network defaults): a kube-netsim request crosses
 * pod -veth 20us-> node -fabric 250us-> node -veth 20us-> pod = 290 us one way, serialized at
 * 10 Gbps on the fabric NICs. Here a request crosses two point-to-point links (client -> router ->
 * server), so each link gets Delay = 145 us (2 x 145 = 290 us one way), DataRate 10 Gbps, Mtu 1500,
 * a 1000-packet DropTail transmit queue (the `queue: 1000` default). By default no queue disc is
 * left on the devices (kube-netsim's link queue is a plain FIFO); --qdisc=default keeps the queue
 * disc ns-3's Ipv4AddressHelper installs (FqCoDel in 3.37).
 *
 * Figures: echoes = packets received back by the clients (UdpEchoClient "Rx" trace);
 * echoesPerWallSecond = echoes / wall seconds of Simulator::Run() (std::chrono::steady_clock);
 * setupSeconds = building the topology, stacks, addresses, routes and applications (not in the
 * Run figure; kube-netsim's bench/star-udp-echo.ts times its world build inside the run).
 *
 * Usage: star-udp-echo [--clients=100] [--servers=10] [--qdisc=none|default]
 * Output: one JSON line on stdout.
 */
#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

using namespace ns3;

namespace
{
uint64_t g_echoes = 0;
uint64_t g_sent = 0;

void
OnRx(Ptr<const Packet>)
{
    ++g_echoes;
}

void
OnTx(Ptr<const Packet>)
{
    ++g_sent;
}
} // namespace

int
main(int argc, char* argv[])
{
    uint32_t clients = 100;
    uint32_t servers = 10;
    std::string qdisc = "none";
    std::string linkDelay = "145us";
    std::string dataRate = "10Gbps";

    CommandLine cmd(__FILE__);
    cmd.AddValue("clients", "client hosts", clients);
    cmd.AddValue("servers", "echo server hosts", servers);
    cmd.AddValue("qdisc", "none: no queue disc on the devices; default: ns-3's default one", qdisc);
    cmd.AddValue("delay", "one-way delay per point-to-point link", linkDelay);
    cmd.AddValue("rate", "data rate per point-to-point link", dataRate);
    cmd.Parse(argc, argv);

    auto setupStart = std::chrono::steady_clock::now();

    NodeContainer router;
    router.Create(1);
    NodeContainer clientNodes;
    clientNodes.Create(clients);
    NodeContainer serverNodes;
    serverNodes.Create(servers);

    InternetStackHelper stack;
    stack.Install(router);
    stack.Install(clientNodes);
    stack.Install(serverNodes);

    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", StringValue(dataRate));
    p2p.SetDeviceAttribute("Mtu", UintegerValue(1500));
    p2p.SetChannelAttribute("Delay", StringValue(linkDelay));
    p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", StringValue("1000p"));

    Ipv4AddressHelper addresses;
    addresses.SetBase("10.0.0.0", "255.255.255.252"); // one /30 per link
    TrafficControlHelper tch;
    std::vector<Ipv4Address> serverAddress;

    auto attach = [&](Ptr<Node> host) {
        NetDeviceContainer link = p2p.Install(host, router.Get(0));
        Ipv4InterfaceContainer ifaces = addresses.Assign(link);
        addresses.NewNetwork();
        if (qdisc == "none")
        {
            tch.Uninstall(link);
        }
        return ifaces.GetAddress(0);
    };
    for (uint32_t i = 0; i < clients; i++)
    {
        attach(clientNodes.Get(i));
    }
    for (uint32_t i = 0; i < servers; i++)
    {
        serverAddress.push_back(attach(serverNodes.Get(i)));
    }
    Ipv4GlobalRoutingHelper::PopulateRoutingTables();

    const uint16_t port = 5000;
    UdpEchoServerHelper echoServer(port);
    ApplicationContainer serverApps = echoServer.Install(serverNodes);
    serverApps.Start(Seconds(0));

    for (uint32_t i = 0; i < clients; i++)
    {
        UdpEchoClientHelper echoClient(serverAddress[i % servers], port);
        echoClient.SetAttribute("MaxPackets", UintegerValue(4000000000u));
        echoClient.SetAttribute("Interval", TimeValue(MilliSeconds(1)));
        echoClient.SetAttribute("PacketSize", UintegerValue(100));
        ApplicationContainer app = echoClient.Install(clientNodes.Get(i));
        app.Start(Seconds(0));
        app.Stop(Seconds(2)); // sends at 0, 1 ms, ..., 1999 ms
        app.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&OnRx));
        app.Get(0)->TraceConnectWithoutContext("Tx", MakeCallback(&OnTx));
    }
    Simulator::Stop(Seconds(5));

    auto runStart = std::chrono::steady_clock::now();
    Simulator::Run();
    auto runStop = std::chrono::steady_clock::now();

    double setupSeconds = std::chrono::duration<double>(runStart - setupStart).count();
    double runSeconds = std::chrono::duration<double>(runStop - runStart).count();
    uint64_t events = Simulator::GetEventCount();
    int64_t nowNs = Simulator::Now().GetNanoSeconds();
    Simulator::Destroy();

    std::printf("{\"benchmark\":\"ns3-star-udp-echo\",\"ns3\":\"3.37\",\"clients\":%u,\"servers\":%u,"
                "\"linkDelay\":\"%s\",\"linkRate\":\"%s\",\"qdisc\":\"%s\",\"sent\":%llu,"
                "\"echoes\":%llu,\"events\":%llu,\"runSeconds\":%.4f,\"setupSeconds\":%.4f,"
                "\"echoesPerWallSecond\":%.0f,\"echoesPerWallSecondWithSetup\":%.0f,"
                "\"eventsPerSecond\":%.0f,\"simulatedNs\":%lld}\n",
                clients,
                servers,
                linkDelay.c_str(),
                dataRate.c_str(),
                qdisc.c_str(),
                (unsigned long long)g_sent,
                (unsigned long long)g_echoes,
                (unsigned long long)events,
                runSeconds,
                setupSeconds,
                g_echoes / runSeconds,
                g_echoes / (runSeconds + setupSeconds),
                events / runSeconds,
                (long long)nowNs);
    return g_echoes == g_sent ? 0 : 1;
}
