# frozen_string_literal: true

require_relative "lib/chronoforge/version"

Gem::Specification.new do |s|
  s.name = "chronoforge-client"
  s.version = Chronoforge::CLIENT_VERSION
  s.summary = "Enqueue chronoforge durable workflows from Ruby"
  s.description = "A small producer for chronoforge (a durable-workflow worker in C): builds and " \
                  "checks msgpack envelopes (wire format v1) and pushes them into Redis."
  s.authors = ["chronoforge authors"]
  s.license = "MIT"
  s.files = Dir["lib/**/*.rb"]
  s.require_paths = ["lib"]
  s.required_ruby_version = ">= 3.0"
  s.add_runtime_dependency "msgpack", ">= 1.4", "< 2"
  s.add_runtime_dependency "redis", ">= 4.6", "< 6"
  s.add_development_dependency "minitest", ">= 5.14"
end
