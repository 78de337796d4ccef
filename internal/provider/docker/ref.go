package docker

import (
	"fmt"
	"strings"

	"github.com/distribution/reference"
)

// checkImageID says, as a sentence, why imageID cannot be run as a
// container.
func checkImageID(imageID string) error {
	switch {
	case imageID == "":
		return fmt.Errorf("the launch template names no image: the Docker provider needs a Docker image reference as image_id (e.g. %s, built with `alba image build`)", DefaultImageTag)
	case strings.HasPrefix(imageID, "ami-"):
		return fmt.Errorf("image_id %s is an AMI id, which the Docker provider cannot run: name a Docker image instead (e.g. %s, built with `alba image build`)", imageID, DefaultImageTag)
	}
	if _, err := reference.ParseAnyReference(imageID); err != nil {
		return fmt.Errorf("image_id %q is not a Docker image reference (%v): name one as name[:tag] or name@digest, e.g. %s", imageID, err, DefaultImageTag)
	}
	return nil
}
