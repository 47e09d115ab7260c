-- Argo CD health of Petrel's Bot and Pipeline (petrel.dev/v1alpha1), read from the status the operator
-- writes: status.observedGeneration and the conditions Ready, Progressing and Degraded, each with the
-- generation it describes. Uses only what Argo CD's sandbox offers without open libraries (no string,
-- no math), and compares generations as text, since Argo CD may hand numbers over as strings.
local function same(a, b)
  return a ~= nil and b ~= nil and tostring(a) == tostring(b)
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then
      return c.reason .. ": " .. c.message
    end
    return c.message
  end
  return c.reason or ""
end

local generation = obj.metadata and obj.metadata.generation
local status = obj.status
if status == nil then
  return { status = "Progressing", message = "Waiting for the Petrel operator" }
end
if generation ~= nil and not same(status.observedGeneration, generation) then
  return { status = "Progressing", message = "The Petrel operator has not seen generation " .. tostring(generation) .. " yet" }
end

-- The conditions by type; one written for an older generation says nothing about this one.
local conditions = {}
for _, c in ipairs(status.conditions or {}) do
  if c.type ~= nil and (generation == nil or c.observedGeneration == nil or same(c.observedGeneration, generation)) then
    conditions[c.type] = c
  end
end

local degraded = conditions["Degraded"]
if degraded ~= nil and degraded.status == "True" then
  return { status = "Degraded", message = describe(degraded) }
end
local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  return { status = "Healthy", message = describe(ready) }
end
local progressing = conditions["Progressing"]
if progressing ~= nil and progressing.status == "True" then
  return { status = "Progressing", message = describe(progressing) }
end
if ready ~= nil then
  return { status = "Progressing", message = describe(ready) }
end
return { status = "Progressing", message = "Waiting for the Petrel operator" }
