package docker

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/provider"
)

// The engine's event stream tells of a container of this store that
// dies, and nothing of the stream's own start.
func TestEndedHearsAContainerDie(t *testing.T) {
	cli := localEngine(t)
	image := testImage(t, cli)
	p := newProvider(t, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ended := p.Ended(ctx)
	l := launch(t, ctx, p, provider.LaunchSpec{InstanceID: instanceID(), Zone: "zone-a", InstanceType: "t2.micro",
		Size: model.InstanceTypes["t2.micro"], ImageID: image, Port: 8080})
	select {
	case <-ended:
		t.Fatal("an end was reported for a container that runs")
	default:
	}
	if _, err := cli.ContainerKill(ctx, l.Runtime.ContainerID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("no end reported within 30 s of docker kill")
	}
}
