# Build the single binary with Deno, run it on a small non-root base.
#   docker build -t faas-deno . && docker run -p 8081:8081 faas-deno
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY src ./src
COPY sim ./sim
RUN deno install && deno task compile

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/faas-deno /usr/local/bin/faas-deno
ENV port=8081
EXPOSE 8081
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/faas-deno"]
