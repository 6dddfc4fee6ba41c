# The design's developer workflow for the Compose stack (docker-compose.yml), plus the project's
# own targets. `make help` lists them.
#
#   make up                     build the images, make dev certs and secrets, start, wait for health
#   make logs [SERVICE=name]    follow a service's logs (default: wharf)
#   make down                   remove the stack's containers, networks and volumes

PROJECT ?= motovaultpro
SERVICE ?= wharf
WHARF_DASHBOARD_PORT ?= 8080
export WHARF_DASHBOARD_PORT
# wharf runs as a non-root user; the socket's group lets it read the Docker API.
DOCKER_GID ?= $(shell stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)
export DOCKER_GID

# Compose v2 when present; else docker-compose 1.x, which needs --compatibility for the resource
# limits and an override that mounts the Docker configs it ignores outside Swarm.
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; \
  else echo "docker-compose --compatibility -f docker-compose.yml -f docker-compose.v1.yml"; fi) -p $(PROJECT)
API = http://localhost:$(WHARF_DASHBOARD_PORT)

.PHONY: help up down images certs secrets dashboard logs service-discovery routes \
  network-inspect health-check-all check test bench

help:
	@sed -n 's/^\([a-z-]*\):.*## \(.*\)/  make \1\t\2/p' $(MAKEFILE_LIST) | expand -t 28

up: images certs secrets ## build, start and wait until every service is healthy
	$(COMPOSE) up -d
	@bash scripts/compose-wait.sh $(PROJECT)

down: ## remove every container, network and volume of the stack
	$(COMPOSE) down --volumes --remove-orphans

images: ## build wharf's image from a host binary, and the stand-ins' image
	bash scripts/image.sh

certs: ## development TLS certificate in certs/ (kept if present)
	bash scripts/dev-files.sh certs

secrets: ## development secrets in secrets/ (kept if present)
	bash scripts/dev-files.sh secrets

dashboard: ## open wharf's dashboard
	@echo "wharf's dashboard: $(API)/dashboard/"
	@command -v xdg-open >/dev/null && xdg-open "$(API)/dashboard/" >/dev/null 2>&1 || true

logs: ## follow a service's logs: make logs [SERVICE=admin-backend]
	$(COMPOSE) logs -f --tail=100 $(SERVICE)

service-discovery: routes ## the routers and services wharf discovered, from its API
routes:
	@docker run --rm --network host --entrypoint /wharf $${WHARF_IMAGE:-wharf:dev} routes --api=$(API)

network-inspect: ## the stack's networks: internal or not, and who is on each
	@for n in $$(docker network ls -q --filter label=com.docker.compose.project=$(PROJECT)); do \
	  docker network inspect -f '{{.Name}}  internal={{.Internal}}  {{range $$k, $$v := .Labels}}{{if eq $$k "com.motovaultpro.purpose"}}purpose={{$$v}}{{end}}{{end}}{{"\n"}}{{range .Containers}}    {{.Name}}  {{.IPv4Address}}{{"\n"}}{{end}}' $$n; \
	done

health-check-all: ## every service with its state and health
	@docker ps -a --filter label=com.docker.compose.project=$(PROJECT) \
	  --format 'table {{.Label "com.docker.compose.service"}}\t{{.Status}}\t{{.Names}}' | (read -r h; echo "$$h"; sort)

check: certs ## validate the stack's configuration and labels without starting it (no engine needed)
	@docker run --rm --entrypoint /wharf -v "$(CURDIR):/stack:ro" -w /stack $${WHARF_IMAGE:-wharf:dev} \
	  check --compose=docker-compose.yml -p $(PROJECT)

test: ## the whole test suite (what CI runs)
	bash scripts/test.sh

bench: ## the load benchmark: wharf, Traefik and nginx on loopback
	bash benches/load/run.sh
