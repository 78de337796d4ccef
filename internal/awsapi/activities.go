package awsapi

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/alba-lb/alba/internal/autoscaling"
	"github.com/alba-lb/alba/internal/model"
	"github.com/alba-lb/alba/internal/store"
)

// ---- scaling activities and instances: describe activities, terminate,
// instance health and protection, describe instances.

type activityXML struct {
	ActivityID           string `xml:"ActivityId"`
	AutoScalingGroupName string
	Description          string
	Cause                string
	StartTime            isoTime
	EndTime              *isoTime
	StatusCode           string
	StatusMessage        string `xml:",omitempty"`
	Progress             int
	Details              string
	AutoScalingGroupARN  string `xml:",omitempty"`
}

func activityOut(a *model.Activity, groupARN string) activityXML {
	return activityXML{a.ID, a.Group, a.Description, a.Cause, isoTime(a.StartTime), stampPtr(a.EndTime), a.StatusCode,
		a.StatusMessage, a.Progress, a.Details, groupARN}
}

type describeScalingActivitiesIn struct {
	AutoScalingGroupName string   `q:"AutoScalingGroupName"`
	ActivityIDs          []string `q:"ActivityIds"`
	IncludeDeletedGroups *bool    `q:"IncludeDeletedGroups"`
	MaxRecords           *int     `q:"MaxRecords,min=1,max=100"`
	tokenPage
}

type activitiesOut struct {
	Activities memberList[activityXML]
	NextToken  string `xml:",omitempty"`
}

func (h *handler) describeScalingActivities(c *call, in *describeScalingActivitiesIn) (any, error) {
	pg := in.paging(in.MaxRecords, 100)
	// Newest first; in-progress activities before finished ones of the
	// same instant.
	key := func(a *model.Activity) string {
		return fmt.Sprintf("%020d|%s", math.MaxInt64-a.StartTime.UnixNano(), a.ID)
	}
	arns := map[string]string{} // by group; "" for a deleted group
	as, next, err := describe(h, pg, func(tx store.Tx) ([]*model.Activity, error) {
		return autoscaling.Activities(tx, in.AutoScalingGroupName)
	},
		func(a *model.Activity) bool { return len(in.ActivityIDs) == 0 || slices.Contains(in.ActivityIDs, a.ID) }, key,
		func(tx store.Tx, a *model.Activity) (activityXML, error) {
			if _, ok := arns[a.Group]; !ok {
				arns[a.Group] = ""
				if g, err := autoscaling.Group(tx, a.Group); err == nil {
					arns[a.Group] = g.ARN
				}
			}
			return activityOut(a, arns[a.Group]), nil
		})
	if err != nil {
		return nil, err
	}
	return activitiesOut{members(as), next}, nil
}

type terminateInstanceIn struct {
	InstanceID                     string `q:"InstanceId,req"`
	ShouldDecrementDesiredCapacity *bool  `q:"ShouldDecrementDesiredCapacity,req"`
}

type activityOutput struct {
	Activity activityXML
}

func (h *handler) terminateInstance(c *call, in *terminateInstanceIn) (any, error) {
	return inUpdate(h, func(tx store.Tx) (any, error) {
		a, err := autoscaling.TerminateInstance(tx, in.InstanceID, *in.ShouldDecrementDesiredCapacity, c.now)
		if err != nil {
			return nil, err
		}
		arn := ""
		if g, err := autoscaling.Group(tx, a.Group); err == nil {
			arn = g.ARN
		}
		return activityOutput{activityOut(a, arn)}, nil
	})
}

type setInstanceHealthIn struct {
	InstanceID               string `q:"InstanceId,req"`
	HealthStatus             string `q:"HealthStatus,req"`
	ShouldRespectGracePeriod *bool  `q:"ShouldRespectGracePeriod"`
}

func (h *handler) setInstanceHealth(c *call, in *setInstanceHealthIn) (any, error) {
	respect := in.ShouldRespectGracePeriod == nil || *in.ShouldRespectGracePeriod
	return nil, h.update(func(tx store.Tx) error {
		return autoscaling.SetInstanceHealth(tx, in.InstanceID, in.HealthStatus, respect, c.now)
	})
}

type setInstanceProtectionIn struct {
	groupNameIn
	InstanceIDs          []string `q:"InstanceIds,req"`
	ProtectedFromScaleIn *bool    `q:"ProtectedFromScaleIn,req"`
}

func (h *handler) setInstanceProtection(c *call, in *setInstanceProtectionIn) (any, error) {
	err := h.update(func(tx store.Tx) error {
		return autoscaling.SetInstanceProtection(tx, in.AutoScalingGroupName, in.InstanceIDs, *in.ProtectedFromScaleIn)
	})
	if err != nil {
		return nil, err
	}
	return noOutput{}, nil
}

type describeAutoScalingInstancesIn struct {
	InstanceIDs []string `q:"InstanceIds"`
	MaxRecords  *int     `q:"MaxRecords,min=1,max=50"`
	tokenPage
}

type autoScalingInstanceXML struct {
	InstanceID           string `xml:"InstanceId"`
	InstanceType         string
	AutoScalingGroupName string
	AvailabilityZone     string
	LifecycleState       string
	HealthStatus         string
	LaunchTemplate       launchTemplateSpecXML
	ProtectedFromScaleIn bool
}

type autoScalingInstancesOut struct {
	AutoScalingInstances memberList[autoScalingInstanceXML]
	NextToken            string `xml:",omitempty"`
}

func (h *handler) describeAutoScalingInstances(c *call, in *describeAutoScalingInstancesIn) (any, error) {
	pg := in.paging(in.MaxRecords, 50)
	is, next, err := describe(h, pg, autoscaling.Instances,
		func(i *model.Instance) bool { return len(in.InstanceIDs) == 0 || slices.Contains(in.InstanceIDs, i.ID) },
		func(i *model.Instance) string { return i.ID },
		func(tx store.Tx, i *model.Instance) (autoScalingInstanceXML, error) {
			return autoScalingInstanceXML{i.ID, i.InstanceType, i.Group, i.Zone, i.LifecycleState, strings.ToUpper(i.HealthStatus),
				templateSpecXML(tx, i.LaunchTemplate), i.ProtectedFromScaleIn}, nil
		})
	if err != nil {
		return nil, err
	}
	return autoScalingInstancesOut{members(is), next}, nil
}
