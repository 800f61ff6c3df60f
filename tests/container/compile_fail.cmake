# ctest -P script: building TARGET must fail, and fail because of a deleted function.
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD} --target ${TARGET}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "${TARGET} compiled, but taking a view of a temporary container must not")
endif()
string(FIND "${out}${err}" "deleted" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${TARGET} failed to build for another reason:\n${out}${err}")
endif()
message(STATUS "${TARGET} is rejected by the compiler, as it must be")
